#ifndef CANIF_H
#define CANIF_H
#include "Std_Types.h"

#define CANIF_VENDOR_ID 451U
#define CANIF_MODULE_ID 60U
#define CANIF_AR_RELEASE_MAJOR_VERSION 4U
#define CANIF_AR_RELEASE_MINOR_VERSION 4U
#define CANIF_AR_RELEASE_REVISION_VERSION 0U
#define CANIF_SW_MAJOR_VERSION 6U
#define CANIF_SW_MINOR_VERSION 2U
#define CANIF_SW_PATCH_VERSION 1U
/* generator version of the configuration: not the module's version */
#define CANIF_CFG_SW_MAJOR_VERSION 17U

extern const Std_VersionInfoType CanIf_VersionInfo;
void CanIf_Init(const void *config);
void CanIf_GetVersionInfo(Std_VersionInfoType *versioninfo);
Std_ReturnType CanIf_Transmit(uint16 txPduId, const uint8 *data, uint8 length);
#endif
