/* xva inspect: describe an archive's version, VMs and disks. */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "s3opt.h"

#define CMD "inspect"

static const struct option long_options[] = {
  { "json", no_argument, NULL, 'j' },
  { "help", no_argument, NULL, 'h' },
  XVA_CLI_S3_OPTIONS,
  { NULL, 0, NULL, 0 },
};

/* clang-format off */
static const char usage_text[] =
  "Usage: xva inspect [OPTIONS] [FILE|-|s3://BUCKET/KEY]\n"
  "\n"
  "Reads a whole XVA archive (default: standard input), checking every\n"
  "chunk but writing nothing, and describes it: the version header,\n"
  "every VM record, every disk with its chunks and checksums, the\n"
  "compression, and whether the archive is complete.\n"
  "\n"
  "Options:\n"
  "      --json    print one JSON object (see README.md for its fields)\n"
  "  -h, --help    show this help\n"
  "\n"
  XVA_CLI_S3_HELP
  "\n"
  "Exit status: 0 the archive is complete with no checksum mismatch,\n"
  "2 bad usage, 3 the archive is incomplete, invalid or has\n"
  "mismatches (what was found is still printed), 4 local I/O error,\n"
  "5 S3 credentials refused, 6 no such bucket or object, 7 network\n"
  "failure, 8 other S3 failure.\n";
/* clang-format on */

static const char *const version_strings[] = {
  "hostname", "date", "product_version", "product_brand", "build_number",
};
static const char *const version_ints[] = {
  "xapi_major",
  "xapi_minor",
  "export_vsn",
};

/* What is shown of each VM: the label, the record's field and, for
 * JSON, its type. */
static const struct {
  const char *label;
  const char *field;
  enum xva_type type;
} vm_fields[] = {
  { "name", "name_label", XVA_TYPE_STRING },
  { "uuid", "uuid", XVA_TYPE_STRING },
  { "memory", "memory_static_max", XVA_TYPE_INT },
  { "vcpus", "VCPUs_max", XVA_TYPE_INT },
  { "power_state", "power_state", XVA_TYPE_STRING },
  { "is_a_template", "is_a_template", XVA_TYPE_BOOL },
  { "is_a_snapshot", "is_a_snapshot", XVA_TYPE_BOOL },
};

#define NELEMS(a) (sizeof (a) / sizeof ((a)[0]))

struct report {
  const struct xva_meta *m;
  const struct xva_reader *r;
  struct xva_reader_stats st;
  uint64_t mismatches;
  int complete;
  const char *error; /* when not complete */
};

static void
on_notice (void *opaque, int status, const char *msg)
{
  uint64_t *mismatches = opaque;

  if (status == XVA_ECHECKSUM)
    (*mismatches)++;
  Xva_cli_warn (CMD, "%s", msg != NULL ? msg : "(no message)");
}

/* The record (snapshot) of object i. */
static const struct xva_value *
object_record (const struct xva_meta *m, size_t i)
{
  const struct xva_value *v, *s;
  const char *id = xva_meta_object_id (m, i);

  if (id != NULL) {
    v = xva_meta_find (m, id);
    if (v != NULL)
      return v;
  }
  v = xva_meta_object (m, i);
  s = xva_value_get (v, "snapshot");
  if (s != NULL && xva_value_type (s) == XVA_TYPE_STRUCT
      && xva_value_get (v, "class") != NULL)
    return s;
  return v;
}

static int
is_class (const struct xva_meta *m, size_t i, const char *cls)
{
  const char *c = xva_meta_object_class (m, i);

  return c != NULL && strcmp (c, cls) == 0;
}

/* The device of the VBD whose VDI is vdi_id, or "". */
static const char *
vbd_device (const struct xva_meta *m, const char *vdi_id)
{
  const struct xva_value *rec;
  const char *vdi, *dev;
  size_t i;

  if (vdi_id == NULL)
    return "";
  for (i = 0; i < xva_meta_nobjects (m); i++) {
    if (!is_class (m, i, "VBD"))
      continue;
    rec = object_record (m, i);
    vdi = xva_value_get_string (rec, "VDI");
    if (vdi != NULL && strcmp (vdi, vdi_id) == 0) {
      dev = xva_value_get_string (rec, "device");
      return dev != NULL ? dev : "";
    }
  }
  return "";
}

static const char *
str_or_empty (const char *s)
{
  return s != NULL ? s : "";
}

/* ---- JSON ---- */

static void
json_int_member (const struct xva_value *v)
{
  int64_t i;

  if (v != NULL && xva_value_get_int (v, &i) == 0)
    printf ("%" PRId64, i);
  else
    fputs ("null", stdout);
}

static void
json_bool_member (const struct xva_value *v)
{
  int b;

  if (v != NULL && xva_value_get_bool (v, &b) == 0)
    fputs (b ? "true" : "false", stdout);
  else
    fputs ("null", stdout);
}

static void
json_text_member (const struct xva_value *v)
{
  char buf[64];

  Xva_cli_json_string (stdout, Xva_cli_value_text (v, buf, sizeof buf));
}

static void
print_json (const struct report *rep)
{
  const struct xva_meta *m = rep->m;
  const struct xva_value *ver, *rec, *v;
  const struct xva_disk *d;
  struct xva_disk_stats ds;
  const char *cname;
  size_t i, j, n;
  unsigned k;

  fputs ("{\"version\":", stdout);
  if (m == NULL)
    fputs ("null", stdout);
  else {
    ver = xva_meta_version (m);
    fputc ('{', stdout);
    for (i = 0; i < NELEMS (version_strings); i++) {
      printf ("%s\"%s\":", i > 0 ? "," : "", version_strings[i]);
      json_text_member (xva_value_get (ver, version_strings[i]));
    }
    for (i = 0; i < NELEMS (version_ints); i++) {
      printf (",\"%s\":", version_ints[i]);
      json_int_member (xva_value_get (ver, version_ints[i]));
    }
    fputc ('}', stdout);
  }
  cname = xva_compress_name (rep->st.compress);
  printf (",\"compression\":\"%s\"", cname != NULL ? cname : "none");
  printf (",\"complete\":%s", rep->complete ? "true" : "false");
  printf (",\"metadata_only\":%s", rep->st.metadata_only ? "true" : "false");
  printf (",\"mismatches\":%" PRIu64, rep->mismatches);

  fputs (",\"vms\":[", stdout);
  n = 0;
  for (i = 0; m != NULL && i < xva_meta_nobjects (m); i++) {
    if (!is_class (m, i, "VM"))
      continue;
    rec = object_record (m, i);
    fputs (n++ > 0 ? ",{" : "{", stdout);
    for (j = 0; j < NELEMS (vm_fields); j++) {
      printf ("%s\"%s\":", j > 0 ? "," : "", vm_fields[j].label);
      v = xva_value_get (rec, vm_fields[j].field);
      if (vm_fields[j].type == XVA_TYPE_INT)
        json_int_member (v);
      else if (vm_fields[j].type == XVA_TYPE_BOOL)
        json_bool_member (v);
      else
        json_text_member (v);
    }
    fputc ('}', stdout);
  }
  fputc (']', stdout);

  fputs (",\"disks\":[", stdout);
  for (k = 0; m != NULL && k < xva_meta_ndisks (m); k++) {
    d = xva_meta_disk (m, k);
    if (d == NULL)
      continue;
    memset (&ds, 0, sizeof ds);
    xva_reader_disk_stats (rep->r, k, &ds);
    fputs (k > 0 ? ",{\"id\":" : "{\"id\":", stdout);
    Xva_cli_json_string (stdout, str_or_empty (d->id));
    fputs (",\"userdevice\":", stdout);
    Xva_cli_json_string (stdout, str_or_empty (d->userdevice));
    fputs (",\"device\":", stdout);
    Xva_cli_json_string (stdout, vbd_device (m, d->id));
    fputs (",\"vdi_uuid\":", stdout);
    Xva_cli_json_string (stdout, str_or_empty (d->vdi_uuid));
    fputs (",\"name\":", stdout);
    Xva_cli_json_string (stdout, str_or_empty (d->name_label));
    printf (",\"virtual_size\":%" PRIu64 ",\"chunks\":%" PRIu64
            ",\"data_bytes\":%" PRIu64 ",\"checksum\":\"%s\"}",
            d->virtual_size, ds.chunks, ds.data_bytes,
            Xva_cli_checksum_kinds (ds.checksum_kinds));
  }
  fputc (']', stdout);
  if (!rep->complete) {
    fputs (",\"error\":", stdout);
    Xva_cli_json_string (stdout, str_or_empty (rep->error));
  }
  fputs ("}\n", stdout);
}

/* ---- human form ---- */

static void
line (int indent, const char *label, const char *value)
{
  int w = 20 - indent;

  if (value != NULL && value[0] == '\0') {
    printf ("%*s%s:\n", indent, "", label);
    return;
  }
  printf ("%*s%s:%*s", indent, "", label,
          (int) strlen (label) + 1 < w ? w - (int) strlen (label) - 1 : 1, "");
  Xva_cli_print_safe (stdout, value != NULL ? value : "-");
  fputc ('\n', stdout);
}

static void
line_value (int indent, const char *label, const struct xva_value *v)
{
  char buf[64];

  line (indent, label, Xva_cli_value_text (v, buf, sizeof buf));
}

static void
line_u64 (int indent, const char *label, uint64_t v)
{
  char buf[32];

  snprintf (buf, sizeof buf, "%" PRIu64, v);
  line (indent, label, buf);
}

static void
print_human (const struct report *rep)
{
  const struct xva_meta *m = rep->m;
  const struct xva_value *ver, *rec;
  const struct xva_disk *d;
  struct xva_disk_stats ds;
  const char *cname;
  char label[32];
  size_t i, j, n;
  unsigned k;

  cname = xva_compress_name (rep->st.compress);
  line (0, "compression", cname != NULL ? cname : "none");
  line (0, "complete", rep->complete ? "yes" : "no");
  line (0, "metadata only", rep->st.metadata_only ? "yes" : "no");
  line_u64 (0, "mismatches", rep->mismatches);
  if (m != NULL) {
    ver = xva_meta_version (m);
    printf ("version:\n");
    for (i = 0; i < NELEMS (version_strings); i++)
      line_value (2, version_strings[i],
                  xva_value_get (ver, version_strings[i]));
    for (i = 0; i < NELEMS (version_ints); i++)
      line_value (2, version_ints[i], xva_value_get (ver, version_ints[i]));
    n = 0;
    for (i = 0; i < xva_meta_nobjects (m); i++) {
      if (!is_class (m, i, "VM"))
        continue;
      rec = object_record (m, i);
      snprintf (label, sizeof label, "VM %zu", n++);
      printf ("%s:\n", label);
      for (j = 0; j < NELEMS (vm_fields); j++)
        line_value (2, vm_fields[j].label,
                    xva_value_get (rec, vm_fields[j].field));
    }
    for (k = 0; k < xva_meta_ndisks (m); k++) {
      d = xva_meta_disk (m, k);
      if (d == NULL)
        continue;
      memset (&ds, 0, sizeof ds);
      xva_reader_disk_stats (rep->r, k, &ds);
      printf ("disk %u:\n", k);
      line (2, "id", str_or_empty (d->id));
      line (2, "userdevice", str_or_empty (d->userdevice));
      line (2, "device", vbd_device (m, d->id));
      line (2, "vdi_uuid", str_or_empty (d->vdi_uuid));
      line (2, "name", str_or_empty (d->name_label));
      line_u64 (2, "virtual_size", d->virtual_size);
      line_u64 (2, "chunks", ds.chunks);
      line_u64 (2, "data_bytes", ds.data_bytes);
      line (2, "checksum", Xva_cli_checksum_kinds (ds.checksum_kinds));
    }
  }
  if (!rep->complete)
    line (0, "error", str_or_empty (rep->error));
}

int
Xva_cmd_inspect (int argc, char **argv)
{
  struct report rep;
  struct xva_sink_io io;
  struct xva_cli_read rd;
  uint64_t notices = 0;
  int json = 0, c, rc;

  Xva_cli_read_init (&rd, CMD, usage_text);
  while ((c = Xva_cli_read_getopt (&rd, argc, argv, ":h", long_options, &rc))
         != -1)
    if (c == 'j')
      json = 1;
  if (rc != -1)
    return rc;
  memset (&io, 0, sizeof io);
  io.notice = on_notice;
  io.opaque = &notices;
  rc = Xva_cli_read_start (&rd, argc, argv,
                           XVA_CLI_READ_FORCE | XVA_CLI_READ_WHOLE, io);
  if (rc != XVA_EXIT_OK)
    goto out;
  Xva_cli_read_run (&rd);

  memset (&rep, 0, sizeof rep);
  rep.r = rd.r;
  rep.m = xva_reader_meta (rd.r);
  xva_reader_stats (rd.r, &rep.st);
  rep.mismatches = rep.st.mismatches > notices ? rep.st.mismatches : notices;
  rep.complete = rd.status == XVA_OK;
  if (rd.src_exit != 0)
    rep.error = rd.msg;
  else if (rd.status == XVA_ECANCELLED && Xva_cli_interrupted ())
    rep.error = "interrupted";
  else if (!rep.complete)
    rep.error = xva_reader_errmsg (rd.r);

  if (json)
    print_json (&rep);
  else
    print_human (&rep);

  if (rd.src_exit != 0)
    rc = rd.src_exit;
  else if (Xva_cli_interrupted ())
    rc = XVA_EXIT_FAIL;
  else if (!rep.complete || rep.mismatches > 0)
    rc = XVA_EXIT_ARCHIVE;
  else
    rc = XVA_EXIT_OK;
out:
  Xva_cli_read_free (&rd);
  return rc;
}
