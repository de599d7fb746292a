#include "Dcm.h"
#include "Det.h"
#include "CanIf.h"
#include "Com.h"
#include "PduR.h"

/* Versions of the stack's modules, answered by a vendor-specific DID. */
const Std_VersionInfoType Dcm_ModuleVersionInfo[DCM_NUM_VERSIONED_MODULES] = {
    {DCM_VENDOR_ID, DCM_MODULE_ID, DCM_SW_MAJOR_VERSION, DCM_SW_MINOR_VERSION, DCM_SW_PATCH_VERSION},
    {DET_VENDOR_ID, DET_MODULE_ID, DET_SW_MAJOR_VERSION, DET_SW_MINOR_VERSION, DET_SW_PATCH_VERSION},
    {CANIF_VENDOR_ID, CANIF_MODULE_ID, CANIF_SW_MAJOR_VERSION, CANIF_SW_MINOR_VERSION, CANIF_SW_PATCH_VERSION},
    {COM_VENDOR_ID, COM_MODULE_ID, COM_SW_MAJOR_VERSION, COM_SW_MINOR_VERSION, COM_SW_PATCH_VERSION},
    {PDUR_VENDOR_ID, PDUR_MODULE_ID, PDUR_SW_MAJOR_VERSION, PDUR_SW_MINOR_VERSION, PDUR_SW_PATCH_VERSION},
};

void Dcm_Init(const void *config)
{
    (void)config;
}

void Dcm_GetVersionInfo(Std_VersionInfoType *versioninfo)
{
    if (versioninfo != NULL_PTR) {
        *versioninfo = Dcm_ModuleVersionInfo[0];
    }
}

uint8 Dcm_ReadSoftwareVersions(uint8 *buffer, uint8 size)
{
    uint8 n = 0u;
    uint8 i;
    for (i = 0u; i < DCM_NUM_VERSIONED_MODULES && n + 4u <= size; i++) {
        buffer[n++] = (uint8)Dcm_ModuleVersionInfo[i].moduleID;
        buffer[n++] = Dcm_ModuleVersionInfo[i].sw_major_version;
        buffer[n++] = Dcm_ModuleVersionInfo[i].sw_minor_version;
        buffer[n++] = Dcm_ModuleVersionInfo[i].sw_patch_version;
    }
    return n;
}
