/* Demo Body Control Module application "BCM_APP" by ACME Electronics (our own code, Apache-2.0).
 * Exterior lights and door locks driven from CAN; SecOC-style AES-CMAC on the lock commands
 * (Mbed TLS); a UDP diagnostics/status endpoint over lwIP; UDS identification from .ecu_ident. */
#include <stdint.h>
#include <string.h>

#include "board.h"
#include "ecu_ident.h"

#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/timeouts.h"
#include "lwip/udp.h"
#include "lwip/dhcp.h"
#include "lwip/etharp.h"
#include "netif/ethernet.h"

#include "mbedtls/cmac.h"
#include "mbedtls/sha256.h"
#include "mbedtls/version.h"

#define BCM_APP_VERSION "2.4.1"

ECU_IDENT_SECTION const char ecu_did_table[] =
    ECU_DID_TABLE("84512345AC", BCM_APP_VERSION, "ACME", "ACM24B0117", "BCM-HW-03.1", "ACME-BCM-2.4.1-r17")
    /* F197 system name as the supplier filled it in: markup from an HMI string (a report must show it as text) */
    "F197=BCM <img src=x onerror=alert(1)>;";

__attribute__((used)) const char bcm_app_version[] = "BCM_APP_VERSION " BCM_APP_VERSION;
__attribute__((used)) const char bcm_build_banner[] =
    "ACME BCM_APP " BCM_APP_VERSION " (" __DATE__ " " __TIME__ ") lwIP " LWIP_VERSION_STRING;

/* debug string left in by the supplier: the HMI label echo is raw text from the head unit */
static const char s_hmi_debug[] = "bcm diag: last HMI label=<img src=x onerror=alert(1)>";

/* ---- SecOC-style authentication of lock commands (AES-128-CMAC, truncated to 24 bits) ---- */
static const unsigned char s_secoc_key[16] = {
  0x3a, 0x91, 0x5c, 0x07, 0xe2, 0x48, 0xb6, 0x1d, 0x73, 0xc0, 0x2f, 0x94, 0x58, 0xab, 0x0e, 0x66,
};
static uint32_t s_freshness;

static int secoc_verify(const struct can_frame_in *f)
{
  unsigned char msg[4 + 5], mac[16];
  if (f->len != 8) return -1;
  msg[0] = (unsigned char)(f->id >> 8); msg[1] = (unsigned char)f->id;
  msg[2] = (unsigned char)(s_freshness >> 8); msg[3] = (unsigned char)s_freshness;
  memcpy(msg + 4, f->data, 5);
  const mbedtls_cipher_info_t *ci = mbedtls_cipher_info_from_type(MBEDTLS_CIPHER_AES_128_ECB);
  if (ci == NULL || mbedtls_cipher_cmac(ci, s_secoc_key, 128, msg, sizeof msg, mac) != 0) return -1;
  if (memcmp(mac, f->data + 5, 3) != 0) return -1;
  s_freshness++;
  return 0;
}

/* ---- calibration block check ---- */
static const unsigned char s_calib[64] = "lights:auto;drl:on;lock_speed_kmh:15;mirror_fold:1;welcome:2";
static unsigned char s_calib_digest[32];

/* ---- network: status datagrams on a netif whose MAC drops every frame ---- */
static struct netif s_netif;
static struct udp_pcb *s_udp;
static volatile uint32_t s_tx_bytes;
static char s_status[160];

static err_t mac_output(struct netif *n, struct pbuf *p) { (void)n; s_tx_bytes += p->tot_len; return ERR_OK; }
static err_t mac_init(struct netif *n)
{
  static const u8_t mac[6] = { 0x02, 0x41, 0x43, 0x4d, 0x45, 0x01 };
  n->name[0] = 'b'; n->name[1] = 'c';
  n->mtu = 1500; n->hwaddr_len = 6;
  memcpy(n->hwaddr, mac, 6);
  n->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
  n->output = etharp_output;
  n->linkoutput = mac_output;
  return ERR_OK;
}

static void on_diag_udp(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
  uint8_t req[8], rsp[64];
  (void)arg;
  u16_t n = pbuf_copy_partial(p, req, sizeof req, 0);
  pbuf_free(p);
  size_t r = uds_handle_request(req, n, rsp, sizeof rsp);
  struct pbuf *q = r ? pbuf_alloc(PBUF_TRANSPORT, (u16_t)r, PBUF_RAM) : NULL;
  if (q) {
    memcpy(q->payload, rsp, r);
    udp_sendto(pcb, q, addr, port);
    pbuf_free(q);
  }
}

static void status_join(const char *a, const char *b, const char *c)
{
  const char *parts[3] = { a, b, c };
  size_t n = 0;
  for (unsigned i = 0; i < 3; i++) {
    if (i && n + 3 < sizeof s_status) { memcpy(s_status + n, " | ", 3); n += 3; }
    for (const char *p = parts[i]; *p && n + 1 < sizeof s_status; p++) s_status[n++] = *p;
  }
  s_status[n] = '\0';
}

static const struct can_frame_in *can_receive(void)
{
  static struct can_frame_in f = { 0x2F1u, 8, { 0x01, 0x00, 0x00, 0x00, 0x00, 0, 0, 0 } };
  f.data[1] = (uint8_t)ecu_random();
  return &f;
}

int main(void)
{
  char mbed_version[32];
  uint8_t rsp[64];
  static const uint8_t req_sw[] = { 0x22, 0xF1, 0x89 };

  mbedtls_version_get_string_full(mbed_version);   /* "Mbed TLS x.y.z" */
  status_join(bcm_app_version, mbed_version, bcm_build_banner);
  ecu_log(s_status);
  if (uds_handle_request(req_sw, sizeof req_sw, rsp, sizeof rsp) < 4) ecu_log("ident block unreadable");
  mbedtls_sha256(s_calib, sizeof s_calib, s_calib_digest, 0);

  lwip_init();
  netif_add(&s_netif, IP4_ADDR_ANY4, IP4_ADDR_ANY4, IP4_ADDR_ANY4, NULL, mac_init, ethernet_input);
  netif_set_hostname(&s_netif, "bcm");
  netif_set_default(&s_netif);
  netif_set_up(&s_netif);
  netif_set_link_up(&s_netif);
  dhcp_start(&s_netif);
  s_udp = udp_new();
  if (s_udp && udp_bind(s_udp, IP_ANY_TYPE, 13400) == ERR_OK) udp_recv(s_udp, on_diag_udp, NULL);

  for (;;) {
    const struct can_frame_in *f = can_receive();
    if (f->id == 0x2F1u && secoc_verify(f) != 0) ecu_log(s_hmi_debug);
    sys_check_timeouts();
  }
}
