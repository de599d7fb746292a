/* Demo sensor ECU application "SNS_APP" by PicoSense (our own code, Apache-2.0): a small
 * Cortex-M0+ node that samples a rain/light sensor, frames the measurement with a CRC-32 (zlib),
 * sends it on CAN and answers UDS identification from .ecu_ident. Shipped as a raw flash dump. */
#include <stdint.h>
#include <string.h>

#include "board.h"
#include "ecu_ident.h"
#include "zlib.h"

#define SNS_APP_VERSION "0.8.2"

ECU_IDENT_SECTION const char ecu_did_table[] =
    ECU_DID_TABLE("84530042AA", SNS_APP_VERSION, "PICO", "PS0008821", "SNS-HW-1", "PICO-SNS-0.8.2");

__attribute__((used)) const char sns_app_version[] = "SNS_APP_VERSION " SNS_APP_VERSION;

struct measurement {
  uint16_t rain_raw;
  uint16_t light_lux;
  uint32_t seq;
  uint32_t crc;
};

static volatile uint16_t *const ADC_DATA = (volatile uint16_t *)0x40012440u;
static struct measurement s_meas;
static uint8_t s_can_tx[8];
static volatile uint32_t s_frames;

static void can_send(uint32_t id, const uint8_t *data, uint8_t len)
{
  (void)id;
  memcpy(s_can_tx, data, len);
  s_frames++;
}

int main(void)
{
  uint8_t rsp[40];
  static const uint8_t req_sw[] = { 0x22, 0xF1, 0x95 };
  const char *zv = zlibVersion();

  ecu_log(sns_app_version);
  ecu_log(zv);
  if (uds_handle_request(req_sw, sizeof req_sw, rsp, sizeof rsp) < 4) ecu_log("sns: ident block unreadable");

  for (;;) {
    s_meas.rain_raw = ADC_DATA[0];
    s_meas.light_lux = ADC_DATA[1];
    s_meas.seq++;
    s_meas.crc = (uint32_t)crc32(0L, (const Bytef *)&s_meas, (uInt)offsetof(struct measurement, crc));
    uint8_t frame[8] = {
      (uint8_t)s_meas.rain_raw, (uint8_t)(s_meas.rain_raw >> 8),
      (uint8_t)s_meas.light_lux, (uint8_t)(s_meas.light_lux >> 8),
      (uint8_t)s_meas.crc, (uint8_t)(s_meas.crc >> 8), (uint8_t)(s_meas.crc >> 16), (uint8_t)(s_meas.crc >> 24),
    };
    can_send(0x3A0u, frame, sizeof frame);
  }
}
