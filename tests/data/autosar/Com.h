#ifndef COM_H
#define COM_H
#include "Std_Types.h"

#define COM_VENDOR_ID (0x01C3u)
#define COM_MODULE_ID (0x32u)
#define COM_AR_RELEASE_MAJOR_VERSION ((uint8)4u)
#define COM_AR_RELEASE_MINOR_VERSION ((uint8)4u)
#define COM_AR_RELEASE_REVISION_VERSION ((uint8)0u)
#define COM_SW_MAJOR_VERSION ((uint8)5u)
#define COM_SW_MINOR_VERSION ((uint8)11u)
#define COM_SW_PATCH_VERSION ((uint8)0u)

extern const Std_VersionInfoType Com_VersionInfo;
void Com_Init(const void *config);
void Com_GetVersionInfo(Std_VersionInfoType *versioninfo);
uint8 Com_SendSignal(uint16 signalId, const void *data);
#endif
