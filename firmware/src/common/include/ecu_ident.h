/* ecuscan demo ECU images: identification block and the UDS server that answers from it
 * (our own code, Apache-2.0).
 *
 * Every image carries one printable identification string in its constants (section .ecu_ident,
 * right after the vector table), so that a scanner reading the flash image and a simulator playing
 * the ECU on a CAN bus see the same values:
 *   ECUSCAN-DID:F187=<spare part>;F189=<sw version>;F18A=<supplier id>;F18C=<serial>;
 *               F191=<hw number>;F195=<supplier sw version>;
 * (one string, no line break). DIDs per ISO 14229-1 annex C. */
#ifndef ECU_IDENT_H
#define ECU_IDENT_H
#include <stddef.h>
#include <stdint.h>

#define ECU_DID_TABLE(f187, f189, f18a, f18c, f191, f195)                                   \
  "ECUSCAN-DID:F187=" f187 ";F189=" f189 ";F18A=" f18a ";F18C=" f18c ";F191=" f191        \
  ";F195=" f195 ";"

/* placed in flash by the linker script (KEEP) and marked used, so --gc-sections keeps it */
#define ECU_IDENT_SECTION __attribute__((section(".ecu_ident"), used, aligned(4)))

/* defined by each ECU's main.c */
extern const char ecu_did_table[];

/* Copy the value of DID `did` from ecu_did_table into out (no terminator).
 * Returns the length, or -1 if the DID is not in the table or does not fit. */
int ecu_read_did(uint16_t did, uint8_t *out, size_t cap);

/* Answer one UDS request (single frame payload, service id first) from the identification block:
 * 0x10 DiagnosticSessionControl, 0x3E TesterPresent, 0x22 ReadDataByIdentifier (one or more DIDs).
 * Writes the positive or negative response to rsp; returns its length (0: no response). */
size_t uds_handle_request(const uint8_t *req, size_t len, uint8_t *rsp, size_t cap);

#endif
