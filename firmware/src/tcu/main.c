/* Demo telematics control unit application "TCU_APP" by Telenova Connect (our own code,
 * Apache-2.0). Collects vehicle signals, compresses them (zlib deflate), encrypts them with a
 * session key the backend sends RSA-encrypted (Mbed TLS 2.28 RSA + AES-GCM), uploads over TCP
 * (lwIP), and answers UDS identification from .ecu_ident. */
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

#include "mbedtls/ctr_drbg.h"
#include "mbedtls/gcm.h"
#include "mbedtls/rsa.h"
#include "mbedtls/version.h"

#include "zlib.h"

#define TCU_APP_VERSION "1.9.0"

ECU_IDENT_SECTION const char ecu_did_table[] =
    ECU_DID_TABLE("84527711AD", TCU_APP_VERSION, "TLNV", "TN-TCU-880213", "TCU-HW-4A", "TLNV-TCU-1.9.0-lts");

__attribute__((used)) const char tcu_app_version[] = "TCU_APP_VERSION " TCU_APP_VERSION;
__attribute__((used)) const char tcu_about[] = "Telenova TCU " TCU_APP_VERSION " lwIP/" LWIP_VERSION_STRING;
static char s_crypto_version[32];

/* ---- crypto ---- */
static mbedtls_ctr_drbg_context s_drbg;
static mbedtls_rsa_context s_rsa;
static unsigned char s_session_key[16];
static int s_have_key;

static int tcu_entropy(void *ctx, unsigned char *out, size_t len) { (void)ctx; ecu_random_fill(out, len); return 0; }

static int crypto_init(void)
{
  static const unsigned char pers[] = "telenova-tcu";
  mbedtls_ctr_drbg_init(&s_drbg);
  mbedtls_rsa_init(&s_rsa, MBEDTLS_RSA_PKCS_V15, 0);
  int rc = mbedtls_ctr_drbg_seed(&s_drbg, tcu_entropy, NULL, pers, sizeof pers - 1);
  /* device key pair generated on first boot; the public half goes to the backend at provisioning */
  if (rc == 0) rc = mbedtls_rsa_gen_key(&s_rsa, mbedtls_ctr_drbg_random, &s_drbg, 2048, 65537);
  return rc;
}

/* the backend sends the 128-bit telemetry session key encrypted with the device RSA key */
static int accept_session_key(const unsigned char *blob, size_t len)
{
  size_t olen = 0;
  if (len != mbedtls_rsa_get_len(&s_rsa)) return -1;
  int rc = mbedtls_rsa_pkcs1_decrypt(&s_rsa, mbedtls_ctr_drbg_random, &s_drbg, MBEDTLS_RSA_PRIVATE, &olen,
                                     blob, s_session_key, sizeof s_session_key);
  s_have_key = (rc == 0 && olen == sizeof s_session_key);
  return s_have_key ? 0 : -1;
}

/* ---- telemetry: deflate then AES-GCM ---- */
static unsigned char s_signals[768], s_z[800], s_sealed[800 + 28];

static int telemetry_seal(size_t *out_len)
{
  uLongf zlen = sizeof s_z;
  unsigned char *iv = s_sealed, *tag = s_sealed + 12;
  mbedtls_gcm_context gcm;
  if (!s_have_key) return -1;
  if (compress2(s_z, &zlen, s_signals, sizeof s_signals, Z_DEFAULT_COMPRESSION) != Z_OK) return -1;
  if (mbedtls_ctr_drbg_random(&s_drbg, iv, 12) != 0) return -1;
  mbedtls_gcm_init(&gcm);
  int rc = mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, s_session_key, 128);
  if (rc == 0) rc = mbedtls_gcm_crypt_and_tag(&gcm, MBEDTLS_GCM_ENCRYPT, zlen, iv, 12, NULL, 0, s_z, s_sealed + 28, 16, tag);
  mbedtls_gcm_free(&gcm);
  *out_len = 28 + zlen;
  return rc;
}

/* ---- uplink over a netif whose modem drops every frame ---- */
static struct netif s_netif;
static struct tcp_pcb *s_up;
static volatile uint32_t s_tx_bytes;

static err_t modem_output(struct netif *n, struct pbuf *p) { (void)n; s_tx_bytes += p->tot_len; return ERR_OK; }
static err_t modem_init(struct netif *n)
{
  static const u8_t mac[6] = { 0x02, 0x54, 0x4c, 0x4e, 0x56, 0x01 };
  n->name[0] = 'w'; n->name[1] = 'w';
  n->mtu = 1400; n->hwaddr_len = 6;
  memcpy(n->hwaddr, mac, 6);
  n->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
  n->output = etharp_output;
  n->linkoutput = modem_output;
  return ERR_OK;
}

static err_t on_backend(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
  static unsigned char blob[256];
  (void)arg; (void)err;
  if (p == NULL) { tcp_close(pcb); s_up = NULL; return ERR_OK; }
  u16_t n = pbuf_copy_partial(p, blob, sizeof blob, 0);
  tcp_recved(pcb, p->tot_len);
  pbuf_free(p);
  if (accept_session_key(blob, n) != 0) ecu_log("tcu: session key rejected");
  return ERR_OK;
}

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
  (void)arg;
  if (err != ERR_OK) return err;
  tcp_recv(pcb, on_backend);
  tcp_write(pcb, ecu_did_table, (u16_t)strlen(ecu_did_table), 0);
  return ERR_OK;
}

int main(void)
{
  ip4_addr_t backend;
  size_t sealed_len = 0;
  uint8_t rsp[48];
  static const uint8_t req_serial[] = { 0x22, 0xF1, 0x8C };

  mbedtls_version_get_string_full(s_crypto_version);   /* "mbed TLS x.y.z" */
  ecu_log(tcu_app_version);
  ecu_log(tcu_about);
  ecu_log(s_crypto_version);
  ecu_log(zlibVersion());
  if (uds_handle_request(req_serial, sizeof req_serial, rsp, sizeof rsp) < 4) ecu_log("tcu: no serial");
  if (crypto_init() != 0) ecu_log("tcu: crypto init failed");

  lwip_init();
  netif_add(&s_netif, IP4_ADDR_ANY4, IP4_ADDR_ANY4, IP4_ADDR_ANY4, NULL, modem_init, ethernet_input);
  netif_set_hostname(&s_netif, "tcu");
  netif_set_default(&s_netif);
  netif_set_up(&s_netif);
  netif_set_link_up(&s_netif);
  dhcp_start(&s_netif);
  IP4_ADDR(&backend, 10, 20, 0, 7);

  for (;;) {
    for (unsigned i = 0; i < sizeof s_signals; i++) s_signals[i] = (unsigned char)(i * 7u + sys_now());
    if (s_up == NULL && (s_up = tcp_new()) != NULL) {
      if (tcp_connect(s_up, &backend, 8883, on_connected) != ERR_OK) { tcp_abort(s_up); s_up = NULL; }
    }
    if (s_up && telemetry_seal(&sealed_len) == 0) tcp_write(s_up, s_sealed, (u16_t)sealed_len, TCP_WRITE_FLAG_COPY);
    sys_check_timeouts();
  }
}
