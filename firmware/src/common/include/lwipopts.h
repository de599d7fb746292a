/* lwIP options for the ecuscan demo ECU images (our own code, Apache-2.0): raw API, NO_SYS,
 * IPv4 only, small pools. Shared by lwIP 2.1.x and 2.2.x. */
#ifndef ECU_LWIPOPTS_H
#define ECU_LWIPOPTS_H
#define NO_SYS                  1
#define SYS_LIGHTWEIGHT_PROT    0
#define LWIP_NETCONN            0
#define LWIP_SOCKET             0
#define LWIP_IPV4               1
#define LWIP_IPV6               0
#define LWIP_ARP                1
#define LWIP_ETHERNET           1
#define LWIP_ICMP               1
#define LWIP_UDP                1
#define LWIP_TCP                1
#define LWIP_DHCP               1
#define LWIP_IGMP               1
#define LWIP_DNS                0
#define MEM_ALIGNMENT           4
#define MEM_SIZE                (6 * 1024)
#define PBUF_POOL_SIZE          6
#define MEMP_NUM_TCP_PCB        3
#define MEMP_NUM_UDP_PCB        4
#define TCP_MSS                 536
#define TCP_WND                 (2 * TCP_MSS)
#define TCP_SND_BUF             (2 * TCP_MSS)
#define LWIP_STATS              0
#define LWIP_NETIF_HOSTNAME     1
#define LWIP_NETIF_STATUS_CALLBACK 1
#endif
