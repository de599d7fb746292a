#include "CanIf.h"
#include "Det.h"

const Std_VersionInfoType CanIf_VersionInfo = {
    CANIF_VENDOR_ID, CANIF_MODULE_ID,
    CANIF_SW_MAJOR_VERSION, CANIF_SW_MINOR_VERSION, CANIF_SW_PATCH_VERSION,
};

static uint8 canif_initialized;
static uint8 canif_tx_buffer[8];

void CanIf_Init(const void *config)
{
    (void)config;
    canif_initialized = 1u;
}

void CanIf_GetVersionInfo(Std_VersionInfoType *versioninfo)
{
    if (versioninfo == NULL_PTR) {
        (void)Det_ReportError(CANIF_MODULE_ID, 0u, 0x0Bu, 0x10u);
        return;
    }
    *versioninfo = CanIf_VersionInfo;
}

Std_ReturnType CanIf_Transmit(uint16 txPduId, const uint8 *data, uint8 length)
{
    uint8 i;
    if (canif_initialized == 0u || length > 8u) {
        (void)Det_ReportError(CANIF_MODULE_ID, 0u, 0x49u, 0x30u);
        return E_NOT_OK;
    }
    for (i = 0u; i < length; i++) {
        canif_tx_buffer[i] = (uint8)(data[i] ^ (uint8)txPduId);
    }
    return E_OK;
}
