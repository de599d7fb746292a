#ifndef DCM_H
#define DCM_H
#include "Std_Types.h"

#define DCM_VENDOR_ID 451U
#define DCM_MODULE_ID 53U
#define DCM_AR_RELEASE_MAJOR_VERSION 4U
#define DCM_AR_RELEASE_MINOR_VERSION 4U
#define DCM_AR_RELEASE_REVISION_VERSION 0U
#define DCM_SW_MAJOR_VERSION 9U
#define DCM_SW_MINOR_VERSION 3U
#define DCM_SW_PATCH_VERSION 2U

#define DCM_NUM_VERSIONED_MODULES 5u
extern const Std_VersionInfoType Dcm_ModuleVersionInfo[DCM_NUM_VERSIONED_MODULES];
void Dcm_Init(const void *config);
void Dcm_GetVersionInfo(Std_VersionInfoType *versioninfo);
uint8 Dcm_ReadSoftwareVersions(uint8 *buffer, uint8 size);
#endif
