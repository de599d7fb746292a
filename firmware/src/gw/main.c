/* Demo central gateway application "GW_APP" by Kestrel Automotive Networks (our own code,
 * Apache-2.0). Routes diagnostic requests from DoIP (TCP 13400, lwIP) to the CAN side, protects the
 * backbone with AES-GCM and SecOC HMAC-SHA-256 (wolfCrypt), keeps a deflate-compressed (zlib)
 * trace of routed requests, and answers UDS identification from .ecu_ident. */
#include <stdint.h>
#include <string.h>

#include "board.h"
#include "ecu_ident.h"

#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/timeouts.h"
#include "lwip/tcp.h"
#include "lwip/dhcp.h"
#include "lwip/etharp.h"
#include "netif/ethernet.h"

#include "wolfssl/wolfcrypt/settings.h"
#include "wolfssl/wolfcrypt/aes.h"
#include "wolfssl/wolfcrypt/hmac.h"
#include "wolfssl/wolfcrypt/random.h"
#include "wolfssl/version.h"

#include "zlib.h"

#define GW_APP_VERSION "5.0.3"

ECU_IDENT_SECTION const char ecu_did_table[] =
    ECU_DID_TABLE("84519876AA", GW_APP_VERSION, "KSTRL", "KGW2511042", "GW-HW-B2", "KST-GW-5.0.3+b112");

__attribute__((used)) const char gw_app_version[] = "GW_APP_VERSION " GW_APP_VERSION;
/* third-party versions as the supplier's "about" record shows them */
__attribute__((used)) const char gw_about_lwip[] = "lwIP " LWIP_VERSION_STRING;
__attribute__((used)) const char gw_about_wolf[] = "wolfSSL " LIBWOLFSSL_VERSION_STRING;

int gw_rng_seed(unsigned char *out, unsigned int sz) { ecu_random_fill(out, sz); return 0; }

/* ---- backbone protection ---- */
static const byte s_tunnel_key[16] = "kestrel-gw-demo";
static const byte s_secoc_key[32] = "kestrel-secoc-hmac-demo-key-v01";
static WC_RNG s_rng;
static int s_rng_ok;

static int seal_frame(const byte *in, word32 len, byte *out, byte tag[16])
{
  Aes aes;
  byte iv[12];
  int rc = s_rng_ok ? wc_RNG_GenerateBlock(&s_rng, iv, sizeof iv) : -1;
  if (rc == 0) rc = wc_AesInit(&aes, NULL, INVALID_DEVID);
  if (rc == 0) rc = wc_AesGcmSetKey(&aes, s_tunnel_key, sizeof s_tunnel_key);
  if (rc == 0) rc = wc_AesGcmEncrypt(&aes, out, in, len, iv, sizeof iv, tag, 16, NULL, 0);
  wc_AesFree(&aes);
  return rc;
}

static int secoc_mac(const byte *pdu, word32 len, byte mac[WC_SHA256_DIGEST_SIZE])
{
  Hmac h;
  int rc = wc_HmacInit(&h, NULL, INVALID_DEVID);
  if (rc == 0) rc = wc_HmacSetKey(&h, WC_SHA256, s_secoc_key, sizeof s_secoc_key);
  if (rc == 0) rc = wc_HmacUpdate(&h, pdu, len);
  if (rc == 0) rc = wc_HmacFinal(&h, mac);
  wc_HmacFree(&h);
  return rc;
}

/* ---- routing trace, deflate-compressed in RAM ---- */
static unsigned char s_trace[1024], s_trace_z[1100], s_check[1024];
static size_t s_trace_len;

static int trace_pack(void)
{
  uLongf zlen = sizeof s_trace_z, back = sizeof s_check;
  if (compress2(s_trace_z, &zlen, s_trace, (uLong)s_trace_len, Z_BEST_COMPRESSION) != Z_OK) return -1;
  if (uncompress(s_check, &back, s_trace_z, zlen) != Z_OK || back != s_trace_len) return -1;
  return (int)zlen;
}

/* ---- DoIP-ish TCP endpoint on a netif whose MAC drops every frame ---- */
static struct netif s_netif;
static volatile uint32_t s_tx_bytes;

static err_t mac_output(struct netif *n, struct pbuf *p) { (void)n; s_tx_bytes += p->tot_len; return ERR_OK; }
static err_t mac_init(struct netif *n)
{
  static const u8_t mac[6] = { 0x02, 0x4b, 0x53, 0x54, 0x47, 0x57 };
  n->name[0] = 'g'; n->name[1] = 'w';
  n->mtu = 1500; n->hwaddr_len = 6;
  memcpy(n->hwaddr, mac, 6);
  n->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
  n->output = etharp_output;
  n->linkoutput = mac_output;
  return ERR_OK;
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
  uint8_t req[16], rsp[96];
  (void)arg; (void)err;
  if (p == NULL) { tcp_close(pcb); return ERR_OK; }
  /* DoIP header (8 bytes) + source/target address (4 bytes) precede the UDS payload */
  u16_t n = pbuf_copy_partial(p, req, sizeof req, 12);
  tcp_recved(pcb, p->tot_len);
  pbuf_free(p);
  if (s_trace_len + n <= sizeof s_trace) { memcpy(s_trace + s_trace_len, req, n); s_trace_len += n; }
  size_t r = uds_handle_request(req, n, rsp, sizeof rsp);
  if (r) tcp_write(pcb, rsp, (u16_t)r, TCP_WRITE_FLAG_COPY);
  return ERR_OK;
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
  (void)arg; (void)err;
  tcp_recv(pcb, on_recv);
  return ERR_OK;
}

int main(void)
{
  byte sealed[64], tag[16], mac[WC_SHA256_DIGEST_SIZE];
  static const byte pdu[8] = { 0x10, 0x03, 0xF1, 0x89, 0, 0, 0, 0 };
  struct tcp_pcb *l;

  ecu_log(gw_app_version);
  ecu_log(gw_about_lwip);
  ecu_log(gw_about_wolf);
  ecu_log(zlibVersion());
  s_rng_ok = (wc_InitRng(&s_rng) == 0);

  lwip_init();
  netif_add(&s_netif, IP4_ADDR_ANY4, IP4_ADDR_ANY4, IP4_ADDR_ANY4, NULL, mac_init, ethernet_input);
  netif_set_hostname(&s_netif, "cgw");
  netif_set_default(&s_netif);
  netif_set_up(&s_netif);
  netif_set_link_up(&s_netif);
  dhcp_start(&s_netif);
  l = tcp_new();
  if (l && tcp_bind(l, IP_ANY_TYPE, 13400) == ERR_OK) {
    l = tcp_listen(l);
    tcp_accept(l, on_accept);
  }

  for (;;) {
    if (secoc_mac(pdu, sizeof pdu, mac) != 0 || seal_frame(pdu, sizeof pdu, sealed, tag) != 0)
      ecu_log("gw: crypto failure");
    if (s_trace_len > 512 && trace_pack() < 0) ecu_log("gw: trace pack failed");
    sys_check_timeouts();
  }
}
