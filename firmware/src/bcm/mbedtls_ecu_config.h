/* Mbed TLS 3.x configuration for the demo BCM (our own code, Apache-2.0): AES-CMAC for SecOC
 * message authentication, SHA-256 for calibration checks, the version API. Bare metal, no OS. */
#define MBEDTLS_NO_PLATFORM_ENTROPY
#define MBEDTLS_AES_C
#define MBEDTLS_AES_ROM_TABLES
#define MBEDTLS_AES_FEWER_TABLES
#define MBEDTLS_CIPHER_C
#define MBEDTLS_CMAC_C
#define MBEDTLS_MD_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_VERSION_C
