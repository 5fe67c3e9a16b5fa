/* Status codes and names. */
#include <xva/xva.h>

#include <stddef.h>

struct status_text {
  int code;
  const char *name;
  const char *text;
};

static const struct status_text texts[] = {
  { XVA_OK, "XVA_OK", "success" },
  { XVA_EOF, "XVA_EOF", "end of stream" },
  { XVA_ENOMEM, "XVA_ENOMEM", "out of memory" },
  { XVA_EIO, "XVA_EIO", "input/output error" },
  { XVA_EFORMAT, "XVA_EFORMAT", "not a valid XVA archive" },
  { XVA_ECHECKSUM, "XVA_ECHECKSUM", "checksum mismatch" },
  { XVA_ESTATE, "XVA_ESTATE", "call not valid in this state" },
  { XVA_EINVAL, "XVA_EINVAL", "invalid argument" },
  { XVA_ELIMIT, "XVA_ELIMIT", "input exceeds a limit" },
  { XVA_ETRUNCATED, "XVA_ETRUNCATED", "archive is truncated" },
  { XVA_EVERSION, "XVA_EVERSION", "unsupported archive version" },
  { XVA_ECOMPRESS, "XVA_ECOMPRESS", "corrupt compressed data" },
  { XVA_ENOSPC, "XVA_ENOSPC", "no space left on device" },
  { XVA_ECANCELLED, "XVA_ECANCELLED", "operation cancelled" },
  { XVA_ENOTFOUND, "XVA_ENOTFOUND", "not found" },
  { XVA_EAUTH, "XVA_EAUTH", "authentication failed" },
  { XVA_ENET, "XVA_ENET", "network failure" },
  { XVA_EEXIST, "XVA_EEXIST", "already exists" },
  { XVA_ESERVER, "XVA_ESERVER", "the server reported a failure" },
};

static const struct status_text *
find (int status)
{
  size_t i;

  for (i = 0; i < sizeof texts / sizeof texts[0]; i++)
    if (texts[i].code == status)
      return &texts[i];
  return NULL;
}

const char *
xva_strerror (int status)
{
  const struct status_text *t = find (status);
  return t ? t->text : "unknown status";
}

const char *
xva_status_name (int status)
{
  const struct status_text *t = find (status);
  return t ? t->name : "XVA_UNKNOWN";
}

const char *
xva_compress_name (int compress)
{
  switch (compress) {
  case XVA_COMPRESS_NONE:
    return "none";
  case XVA_COMPRESS_GZIP:
    return "gzip";
  case XVA_COMPRESS_ZSTD:
    return "zstd";
  default:
    return NULL;
  }
}
