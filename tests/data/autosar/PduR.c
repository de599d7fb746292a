#include "PduR.h"
#include "CanIf.h"

const Std_VersionInfoType PduR_VersionInfo = {
    PDUR_VENDOR_ID, PDUR_MODULE_ID, PDUR_SW_MAJOR_VERSION, PDUR_SW_MINOR_VERSION, PDUR_SW_PATCH_VERSION,
};

void PduR_Init(const void *config)
{
    (void)config;
}

void PduR_GetVersionInfo(Std_VersionInfoType *versioninfo)
{
    if (versioninfo != NULL_PTR) {
        *versioninfo = PduR_VersionInfo;
    }
}

Std_ReturnType PduR_ComTransmit(uint16 pduId, const uint8 *data, uint8 length)
{
    return CanIf_Transmit((uint16)(pduId + 0x100u), data, length);
}
