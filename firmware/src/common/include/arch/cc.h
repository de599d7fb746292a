/* lwIP port glue for the ecuscan demo ECU images (our own code, Apache-2.0): bare metal, NO_SYS. */
#ifndef ECU_ARCH_CC_H
#define ECU_ARCH_CC_H
#include <stdint.h>
#include <stdlib.h>
void ecu_log(const char *msg);
uint32_t ecu_random(void);
#define LWIP_PLATFORM_DIAG(x)   do { } while (0)
#define LWIP_PLATFORM_ASSERT(x) do { ecu_log(x); for (;;) { } } while (0)
#define LWIP_RAND()             ((u32_t)ecu_random())
#endif
