#include "Com.h"
#include "PduR.h"

const Std_VersionInfoType Com_VersionInfo = {
    COM_VENDOR_ID, COM_MODULE_ID, COM_SW_MAJOR_VERSION, COM_SW_MINOR_VERSION, COM_SW_PATCH_VERSION,
};

static uint8 com_ipdu[8];

void Com_Init(const void *config)
{
    (void)config;
}

void Com_GetVersionInfo(Std_VersionInfoType *versioninfo)
{
    if (versioninfo != NULL_PTR) {
        *versioninfo = Com_VersionInfo;
    }
}

uint8 Com_SendSignal(uint16 signalId, const void *data)
{
    com_ipdu[signalId & 7u] = *(const uint8 *)data;
    return PduR_ComTransmit(signalId, com_ipdu, 8u);
}
