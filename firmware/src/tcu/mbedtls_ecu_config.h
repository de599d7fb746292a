/* Mbed TLS 2.28 configuration for the demo TCU (our own code, Apache-2.0): RSA key transport of the
 * backend session key, AES-GCM for telemetry, CTR-DRBG, the version API. Bare metal, no OS.
 * (In the 2.x series a custom config file replaces mbedtls/config.h and includes check_config.h.) */
#ifndef TCU_MBEDTLS_CONFIG_H
#define TCU_MBEDTLS_CONFIG_H
#define MBEDTLS_HAVE_ASM
#define MBEDTLS_NO_PLATFORM_ENTROPY
#define MBEDTLS_AES_C
#define MBEDTLS_AES_ROM_TABLES
#define MBEDTLS_CIPHER_C
#define MBEDTLS_GCM_C
#define MBEDTLS_MD_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_GENPRIME
#define MBEDTLS_OID_C
#define MBEDTLS_RSA_C
#define MBEDTLS_PKCS1_V15
#define MBEDTLS_PKCS1_V21
#define MBEDTLS_CTR_DRBG_C
#define MBEDTLS_VERSION_C
#define MBEDTLS_MPI_MAX_SIZE 256
#include "mbedtls/check_config.h"
#endif
