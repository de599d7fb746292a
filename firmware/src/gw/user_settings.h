/* wolfCrypt settings for the demo gateway (our own code, Apache-2.0): crypto only, bare metal.
 * AES-GCM for the backbone tunnel, HMAC-SHA-256 for SecOC, Hash-DRBG seeded from the board RNG. */
#ifndef GW_USER_SETTINGS_H
#define GW_USER_SETTINGS_H
#define WOLFCRYPT_ONLY
#define SINGLE_THREADED
#define NO_FILESYSTEM
#define NO_WRITEV
#define NO_DEV_RANDOM
#define NO_MAIN_DRIVER
#define NO_ERROR_STRINGS
#define WOLFSSL_SMALL_STACK
#define WOLFSSL_GENERAL_ALIGNMENT 4
#define SIZEOF_LONG_LONG 8
#define HAVE_AESGCM
#define GCM_SMALL
#define HAVE_HASHDRBG
#define NO_RSA
#define NO_DH
#define NO_DSA
#define NO_DES3
#define NO_RC4
#define NO_MD4
#define NO_MD5
#define NO_SHA
#define NO_OLD_TLS
#define NO_PWDBASED
#define NO_ASN
#define NO_CERTS
#define NO_ASN_TIME
#define NO_SIG_WRAPPER
#define NO_AES_192
#define NO_AES_256
#define NO_AES_CBC
#define WOLFSSL_NO_SOCK
#define WOLFSSL_IGNORE_FILE_WARN
#define WOLFSSL_NOSHA512
#define WOLFSSL_NO_SHA384
#define NO_BIG_INT
#define WOLFSSL_SP_MATH_NONE
extern int gw_rng_seed(unsigned char *out, unsigned int sz);
#define CUSTOM_RAND_GENERATE_SEED gw_rng_seed
#endif
