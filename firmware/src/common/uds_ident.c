/* ecuscan demo ECU images: a minimal UDS server answering from the identification block
 * (our own code, Apache-2.0). See ecu_ident.h. */
#include "ecu_ident.h"

#define NRC_SERVICE_NOT_SUPPORTED 0x11u
#define NRC_SUBFUNCTION_NOT_SUPPORTED 0x12u
#define NRC_INCORRECT_LENGTH 0x13u
#define NRC_RESPONSE_TOO_LONG 0x14u
#define NRC_REQUEST_OUT_OF_RANGE 0x31u

static int hex_nibble(char c)
{
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int ecu_read_did(uint16_t did, uint8_t *out, size_t cap)
{
  const char *p = ecu_did_table;
  /* skip the "ECUSCAN-DID:" tag */
  while (*p != '\0' && *p != ':') p++;
  if (*p == ':') p++;
  while (*p != '\0') {
    uint16_t key = 0;
    int ok = 1;
    for (int i = 0; i < 4; i++) {
      int n = hex_nibble(p[i]);
      if (n < 0) { ok = 0; break; }
      key = (uint16_t)((key << 4) | (uint16_t)n);
    }
    if (!ok || p[4] != '=') return -1;
    p += 5;
    const char *v = p;
    while (*p != '\0' && *p != ';') p++;
    if (key == did) {
      size_t n = (size_t)(p - v);
      if (n > cap) return -1;
      for (size_t i = 0; i < n; i++) out[i] = (uint8_t)v[i];
      return (int)n;
    }
    if (*p == ';') p++;
  }
  return -1;
}

static size_t negative(uint8_t sid, uint8_t nrc, uint8_t *rsp, size_t cap)
{
  if (cap < 3) return 0;
  rsp[0] = 0x7Fu; rsp[1] = sid; rsp[2] = nrc;
  return 3;
}

size_t uds_handle_request(const uint8_t *req, size_t len, uint8_t *rsp, size_t cap)
{
  if (len == 0 || cap < 3) return 0;
  const uint8_t sid = req[0];
  switch (sid) {
  case 0x10: /* DiagnosticSessionControl: default / extended */
    if (len != 2) return negative(sid, NRC_INCORRECT_LENGTH, rsp, cap);
    if ((req[1] & 0x7Fu) != 0x01u && (req[1] & 0x7Fu) != 0x03u)
      return negative(sid, NRC_SUBFUNCTION_NOT_SUPPORTED, rsp, cap);
    if (req[1] & 0x80u) return 0; /* suppressPosRspMsgIndicationBit */
    if (cap < 6) return 0;
    rsp[0] = 0x50u; rsp[1] = req[1];
    rsp[2] = 0x00u; rsp[3] = 0x32u; rsp[4] = 0x01u; rsp[5] = 0xF4u; /* P2 50 ms, P2* 5 s */
    return 6;
  case 0x3E: /* TesterPresent */
    if (len != 2) return negative(sid, NRC_INCORRECT_LENGTH, rsp, cap);
    if ((req[1] & 0x7Fu) != 0x00u) return negative(sid, NRC_SUBFUNCTION_NOT_SUPPORTED, rsp, cap);
    if (req[1] & 0x80u) return 0;
    rsp[0] = 0x7Eu; rsp[1] = 0x00u;
    return 2;
  case 0x22: { /* ReadDataByIdentifier */
    if (len < 3 || (len - 1) % 2 != 0) return negative(sid, NRC_INCORRECT_LENGTH, rsp, cap);
    size_t n = 0;
    rsp[n++] = 0x62u;
    for (size_t i = 1; i + 1 < len; i += 2) {
      uint16_t did = (uint16_t)((req[i] << 8) | req[i + 1]);
      if (n + 2 > cap) return negative(sid, NRC_RESPONSE_TOO_LONG, rsp, cap);
      rsp[n++] = req[i]; rsp[n++] = req[i + 1];
      int v = ecu_read_did(did, rsp + n, cap - n);
      if (v < 0) return negative(sid, NRC_REQUEST_OUT_OF_RANGE, rsp, cap);
      n += (size_t)v;
    }
    return n;
  }
  default:
    return negative(sid, NRC_SERVICE_NOT_SUPPORTED, rsp, cap);
  }
}
