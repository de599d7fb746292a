/* ecuscan demo ECU images: board services (our own code, Apache-2.0). */
#ifndef ECU_BOARD_H
#define ECU_BOARD_H
#include <stddef.h>
#include <stdint.h>
void ecu_log(const char *msg);
uint32_t ecu_random(void);
void ecu_random_fill(unsigned char *out, size_t len);
uint32_t sys_now(void);
/* frames the (simulated) CAN controller hands to the application */
struct can_frame_in { uint32_t id; uint8_t len; uint8_t data[8]; };
#endif
