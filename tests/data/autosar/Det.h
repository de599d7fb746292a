#ifndef DET_H
#define DET_H
#include "Std_Types.h"

#define DET_VENDOR_ID 451u
#define DET_MODULE_ID 15u
#define DET_AR_RELEASE_MAJOR_VERSION 4u
#define DET_AR_RELEASE_MINOR_VERSION 3u
#define DET_AR_RELEASE_REVISION_VERSION 1u
#define DET_SW_MAJOR_VERSION 2u
#define DET_SW_MINOR_VERSION 1u
#define DET_SW_PATCH_VERSION 0u

void Det_Init(const void *config);
Std_ReturnType Det_ReportError(uint16 moduleId, uint8 instanceId, uint8 apiId, uint8 errorId);
void Det_GetVersionInfo(Std_VersionInfoType *versioninfo);
uint32 Det_ErrorCount(void);
#endif
