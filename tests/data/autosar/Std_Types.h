/* Standard types as the AUTOSAR SWS Standard Types describes them (written for ecuscan's tests). */
#ifndef STD_TYPES_H
#define STD_TYPES_H

#define STD_TYPES_SW_MAJOR_VERSION 1U
#define STD_TYPES_SW_MINOR_VERSION 0U
#define STD_TYPES_SW_PATCH_VERSION 0U

typedef unsigned char uint8;
typedef unsigned short uint16;
typedef unsigned int uint32;
typedef uint8 Std_ReturnType;

#define E_OK ((Std_ReturnType)0u)
#define E_NOT_OK ((Std_ReturnType)1u)
#define NULL_PTR ((void *)0)

typedef struct {
    uint16 vendorID;
    uint16 moduleID;
    uint8 sw_major_version;
    uint8 sw_minor_version;
    uint8 sw_patch_version;
} Std_VersionInfoType;

#endif
