#ifndef PDUR_H
#define PDUR_H
#include "Std_Types.h"

#define PDUR_VENDOR_ID 451u
#define PDUR_MODULE_ID 51u
#define PDUR_AR_RELEASE_MAJOR_VERSION 4u
#define PDUR_AR_RELEASE_MINOR_VERSION 4u
#define PDUR_AR_RELEASE_REVISION_VERSION 0u
#define PDUR_SW_MAJOR_VERSION 4u
#define PDUR_SW_MINOR_VERSION 0u
#define PDUR_SW_PATCH_VERSION 17u

extern const Std_VersionInfoType PduR_VersionInfo;
void PduR_Init(const void *config);
void PduR_GetVersionInfo(Std_VersionInfoType *versioninfo);
Std_ReturnType PduR_ComTransmit(uint16 pduId, const uint8 *data, uint8 length);
#endif
