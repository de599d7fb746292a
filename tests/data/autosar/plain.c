/* A program without AUTOSAR: its tables look like version records but break the rules
   (three records with known module IDs but three different vendor IDs; too few records). */
#include <stdio.h>

struct entry { unsigned short a, b; unsigned char c, d, e; };

const struct entry near_miss[] = {
    {1u, 60u, 1u, 2u, 3u},
    {2u, 50u, 1u, 2u, 3u},
    {3u, 51u, 1u, 2u, 3u},
};
const struct entry too_few[] = {
    {7u, 60u, 1u, 0u, 0u},
    {7u, 50u, 2u, 0u, 0u},
};

int main(int argc, char **argv)
{
    (void)argv;
    printf("%u %u\n", near_miss[argc % 3].b, too_few[argc % 2].c);
    return 0;
}
