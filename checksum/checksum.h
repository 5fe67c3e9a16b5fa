/* Internal helpers of checksum/. */
#ifndef XVA_CHECKSUM_CHECKSUM_H
#define XVA_CHECKSUM_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

#include <xva/xva.h>

/* 16 uppercase hex digits and a NUL into out. */
void Xva_hex64 (uint64_t h, char *out);
/* 2n lowercase hex digits and a NUL into out. */
void Xva_hex_lower (const unsigned char *md, size_t n, char *out);

#endif
