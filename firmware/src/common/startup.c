/* ecuscan demo ECU images: Cortex-M reset and vector table (our own code, Apache-2.0).
 * Copies .data from flash, clears .bss, enables the FPU when the core has one, calls main(). */
#include <stdint.h>

extern uint32_t __data_load, __data_start, __data_end, __bss_start, __bss_end, __stack_top;
extern int main(void);

void Reset_Handler(void);
void Fault_Handler(void);
void Tick_Handler(void);

volatile uint32_t g_tick_ms;
volatile uint32_t g_fault_count;

void Tick_Handler(void) { g_tick_ms++; }

void Fault_Handler(void)
{
  g_fault_count++;
  for (;;) {
    __asm volatile("wfi");
  }
}

typedef void (*vector_t)(void);

/* 16 core exceptions + 8 device interrupts (all routed to the fault loop in this demo) */
__attribute__((section(".vectors"), used))
const vector_t g_vector_table[16 + 8] = {
  (vector_t)(uintptr_t)&__stack_top, Reset_Handler, Fault_Handler, Fault_Handler,
  Fault_Handler, Fault_Handler, Fault_Handler, 0, 0, 0, 0,
  Fault_Handler, Fault_Handler, 0, Fault_Handler, Tick_Handler,
  Fault_Handler, Fault_Handler, Fault_Handler, Fault_Handler,
  Fault_Handler, Fault_Handler, Fault_Handler, Fault_Handler,
};

void Reset_Handler(void)
{
  const uint32_t *src = &__data_load;
  uint32_t *dst;
  for (dst = &__data_start; dst < &__data_end;) {
    *dst++ = *src++;
  }
  for (dst = &__bss_start; dst < &__bss_end;) {
    *dst++ = 0u;
  }
#if defined(__ARM_FP)
  *(volatile uint32_t *)0xE000ED88u |= (0xFu << 20); /* CPACR: CP10/CP11 full access */
  __asm volatile("dsb\n\tisb");
#endif
  (void)main();
  for (;;) {
    __asm volatile("wfi");
  }
}
