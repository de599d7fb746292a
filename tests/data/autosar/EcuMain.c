#include "Det.h"
#include "CanIf.h"
#include "Com.h"
#include "PduR.h"
#include "Dcm.h"

int main(void)
{
    Std_VersionInfoType vi;
    uint8 versions[32];
    uint8 value = 0x5Au;
    uint32 sum = 0u;

    Det_Init(NULL_PTR);
    CanIf_Init(NULL_PTR);
    PduR_Init(NULL_PTR);
    Com_Init(NULL_PTR);
    Dcm_Init(NULL_PTR);
    CanIf_GetVersionInfo(&vi);
    sum += vi.sw_major_version;
    Com_GetVersionInfo(&vi);
    sum += vi.sw_minor_version;
    PduR_GetVersionInfo(&vi);
    sum += vi.sw_patch_version;
    Det_GetVersionInfo(&vi);
    sum += vi.moduleID;
    Dcm_GetVersionInfo(&vi);
    sum += vi.vendorID;
    sum += Dcm_ReadSoftwareVersions(versions, (uint8)sizeof versions);
    sum += Com_SendSignal(3u, &value);
    return (int)((sum + Det_ErrorCount()) & 0x7Fu);
}
