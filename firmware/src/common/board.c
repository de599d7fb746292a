/* ecuscan demo ECU images: board services shared by the demo ECUs (our own code, Apache-2.0):
 * millisecond clock, a stand-in for the TRNG peripheral, and a last-message debug log. */
#include <stddef.h>
#include <stdint.h>

extern volatile uint32_t g_tick_ms;

/* the last few log messages, inspected with a debugger on the bench */
#define ECU_LOG_DEPTH 4u
const char *volatile g_ecu_log[ECU_LOG_DEPTH];
static uint32_t s_log_next;

void ecu_log(const char *msg)
{
  g_ecu_log[s_log_next % ECU_LOG_DEPTH] = msg;
  s_log_next++;
}

uint32_t sys_now(void) { return g_tick_ms; }

/* xorshift32 mixed with the tick counter: stands in for a hardware TRNG in this demo */
static uint32_t s_rng_state = 0x2545F491u;

uint32_t ecu_random(void)
{
  uint32_t x = s_rng_state ^ g_tick_ms;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  s_rng_state = x;
  return x;
}

void ecu_random_fill(unsigned char *out, size_t len)
{
  while (len >= 4) {
    uint32_t r = ecu_random();
    out[0] = (unsigned char)r; out[1] = (unsigned char)(r >> 8);
    out[2] = (unsigned char)(r >> 16); out[3] = (unsigned char)(r >> 24);
    out += 4; len -= 4;
  }
  while (len--) *out++ = (unsigned char)ecu_random();
}
