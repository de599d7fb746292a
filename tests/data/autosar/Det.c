#include "Det.h"

static uint32 det_errors;
static uint16 det_last_module;

void Det_Init(const void *config)
{
    (void)config;
    det_errors = 0u;
}

Std_ReturnType Det_ReportError(uint16 moduleId, uint8 instanceId, uint8 apiId, uint8 errorId)
{
    (void)instanceId;
    (void)apiId;
    (void)errorId;
    det_last_module = moduleId;
    det_errors++;
    return E_OK;
}

/* No record in data: the values become immediates in the code. */
void Det_GetVersionInfo(Std_VersionInfoType *versioninfo)
{
    if (versioninfo == NULL_PTR) {
        return;
    }
    versioninfo->vendorID = DET_VENDOR_ID;
    versioninfo->moduleID = DET_MODULE_ID;
    versioninfo->sw_major_version = DET_SW_MAJOR_VERSION;
    versioninfo->sw_minor_version = DET_SW_MINOR_VERSION;
    versioninfo->sw_patch_version = DET_SW_PATCH_VERSION;
}

uint32 Det_ErrorCount(void)
{
    return det_errors + det_last_module;
}
