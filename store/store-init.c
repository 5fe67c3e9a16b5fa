/* Identifiers, the records of a new host (pool, host, SR) and SRs. */
#include "store/store-priv.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define NULL_REF "OpaqueRef:NULL"
#define EPOCH "19700101T00:00:00Z"

/* ---- Identifiers ----------------------------------------------------- */

int
Xva_store_random (void *buf, size_t n)
{
  unsigned char *p = buf;
  size_t done = 0;

  while (done < n) {
    ssize_t k = getrandom (p + done, n - done, 0);
    if (k < 0) {
      if (errno == EINTR)
        continue;
      return Xva_store_error (XVA_EIO, "getrandom: %s", strerror (errno));
    }
    done += (size_t) k;
  }
  return XVA_OK;
}

int
Xva_store_new_uuid (char *out)
{
  static const char hex[] = "0123456789abcdef";
  unsigned char b[16];
  size_t i, j = 0;
  int r;

  r = Xva_store_random (b, sizeof b);
  if (r < 0)
    return r;
  b[6] = (unsigned char) ((b[6] & 0x0f) | 0x40); /* version 4 */
  b[8] = (unsigned char) ((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
  for (i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10)
      out[j++] = '-';
    out[j++] = hex[b[i] >> 4];
    out[j++] = hex[b[i] & 0x0f];
  }
  out[j] = '\0';
  return XVA_OK;
}

int
Xva_store_new_ref (char *out)
{
  char uuid[XVA_STORE_UUID_LEN + 1];
  int r;

  r = Xva_store_new_uuid (uuid);
  if (r < 0)
    return r;
  snprintf (out, XVA_STORE_REF_MAX + 1, "OpaqueRef:%s", uuid);
  return XVA_OK;
}

int
Xva_store_uuid_valid (const char *u)
{
  int lower = 0, upper = 0;
  size_t i;

  if (u == NULL)
    return 0;
  for (i = 0; i < XVA_STORE_UUID_LEN; i++) {
    char ch = u[i];

    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (ch != '-')
        return 0;
    }
    else if (ch >= 'a' && ch <= 'f')
      lower = 1;
    else if (ch >= 'A' && ch <= 'F')
      upper = 1;
    else if (!(ch >= '0' && ch <= '9'))
      return 0; /* also catches an early NUL */
  }
  return u[XVA_STORE_UUID_LEN] == '\0' && !(lower && upper);
}

/* ---- Record building ---------------------------------------------------
 * A builder remembers the first failure so that a record is made with a
 * run of calls and one check at the end. */

struct builder {
  struct xva_value *v;
  int fail;
};

static void
b_set (struct builder *b, const char *key, struct xva_value *item)
{
  if (b->fail || b->v == NULL) {
    xva_value_free (item);
    b->fail = 1;
    return;
  }
  if (item == NULL || xva_value_set (b->v, key, item) < 0)
    b->fail = 1;
}

static void
b_str (struct builder *b, const char *key, const char *s)
{
  b_set (b, key, xva_value_new_string (s));
}

static void
b_int (struct builder *b, const char *key, int64_t i)
{
  b_set (b, key, xva_value_new_int (i));
}

static void
b_bool (struct builder *b, const char *key, int v)
{
  b_set (b, key, xva_value_new_bool (v));
}

static void
b_map (struct builder *b, const char *key)
{
  b_set (b, key, xva_value_new_struct ());
}

static void
b_set_of (struct builder *b, const char *key)
{
  b_set (b, key, xva_value_new_array ());
}

static void
b_date (struct builder *b, const char *key, const char *iso)
{
  b_set (b, key, xva_value_new_date (iso));
}

/* A set of strings. */
static void
b_strings (struct builder *b, const char *key, const char *const *items,
           size_t n)
{
  struct xva_value *a = xva_value_new_array ();
  size_t i;

  for (i = 0; a && i < n; i++)
    if (xva_value_append (a, xva_value_new_string (items[i])) < 0) {
      xva_value_free (a);
      a = NULL;
    }
  b_set (b, key, a);
}

/* Returns the record, or NULL after a failure. */
static struct xva_value *
b_end (struct builder *b)
{
  if (b->fail) {
    xva_value_free (b->v);
    b->v = NULL;
  }
  return b->v;
}

struct xva_value *
Xva_store_sr_record (const char *name, const char *uuid, const char *path)
{
  struct builder b = { xva_value_new_struct (), 0 };
  struct statvfs sv;
  int64_t size = 0, used = 0;

  if (statvfs (path, &sv) == 0) {
    uint64_t total = (uint64_t) sv.f_blocks * sv.f_frsize;
    uint64_t avail = (uint64_t) sv.f_bfree * sv.f_frsize;
    if (total <= INT64_MAX && avail <= total) {
      size = (int64_t) total;
      used = (int64_t) (total - avail);
    }
  }
  b_str (&b, "uuid", uuid);
  b_str (&b, "name_label", name);
  b_str (&b, "name_description", "");
  b_set_of (&b, "allowed_operations");
  b_map (&b, "current_operations");
  b_set_of (&b, "VDIs");
  b_set_of (&b, "PBDs");
  b_int (&b, "virtual_allocation", 0);
  b_int (&b, "physical_utilisation", used);
  b_int (&b, "physical_size", size);
  b_str (&b, "type", "ext");
  b_str (&b, "content_type", "user");
  b_bool (&b, "shared", 0);
  b_map (&b, "other_config");
  b_set_of (&b, "tags");
  b_map (&b, "sm_config");
  b_map (&b, "blobs");
  b_bool (&b, "local_cache_enabled", 0);
  b_str (&b, "introduced_by", NULL_REF);
  b_bool (&b, "clustered", 0);
  b_bool (&b, "is_tools_sr", 0);
  return b_end (&b);
}

static struct xva_value *
pool_record (const char *uuid, const char *host_ref, const char *sr_ref)
{
  struct builder b = { xva_value_new_struct (), 0 };

  b_str (&b, "uuid", uuid);
  b_str (&b, "name_label", "");
  b_str (&b, "name_description", "");
  b_str (&b, "master", host_ref);
  b_str (&b, "default_SR", sr_ref);
  b_str (&b, "suspend_image_SR", sr_ref);
  b_str (&b, "crash_dump_SR", sr_ref);
  b_map (&b, "other_config");
  b_bool (&b, "ha_enabled", 0);
  b_map (&b, "ha_configuration");
  b_set_of (&b, "ha_statefiles");
  b_int (&b, "ha_host_failures_to_tolerate", 0);
  b_int (&b, "ha_plan_exists_for", 0);
  b_bool (&b, "ha_allow_overcommit", 0);
  b_bool (&b, "ha_overcommitted", 0);
  b_map (&b, "blobs");
  b_set_of (&b, "tags");
  b_map (&b, "gui_config");
  b_map (&b, "health_check_config");
  b_str (&b, "wlb_url", "");
  b_str (&b, "wlb_username", "");
  b_bool (&b, "wlb_enabled", 0);
  b_bool (&b, "wlb_verify_cert", 0);
  b_bool (&b, "redo_log_enabled", 0);
  b_str (&b, "redo_log_vdi", NULL_REF);
  b_str (&b, "vswitch_controller", "");
  b_map (&b, "restrictions");
  b_set_of (&b, "metadata_VDIs");
  b_str (&b, "ha_cluster_stack", "xhad");
  b_set_of (&b, "allowed_operations");
  b_map (&b, "current_operations");
  b_map (&b, "guest_agent_config");
  b_map (&b, "cpu_info");
  b_bool (&b, "policy_no_vendor_device", 0);
  b_bool (&b, "live_patching_disabled", 0);
  b_bool (&b, "igmp_snooping_enabled", 0);
  b_str (&b, "uefi_certificates", "");
  b_bool (&b, "is_psr_pending", 0);
  b_bool (&b, "tls_verification_enabled", 0);
  b_set_of (&b, "repositories");
  b_bool (&b, "client_certificate_auth_enabled", 0);
  b_str (&b, "client_certificate_auth_name", "");
  b_str (&b, "repository_proxy_url", "");
  b_str (&b, "repository_proxy_username", "");
  b_str (&b, "repository_proxy_password", NULL_REF);
  b_bool (&b, "migration_compression", 0);
  b_bool (&b, "coordinator_bias", 1);
  b_str (&b, "telemetry_uuid", NULL_REF);
  b_str (&b, "telemetry_frequency", "weekly");
  b_date (&b, "telemetry_next_collection", EPOCH);
  b_date (&b, "last_update_sync", EPOCH);
  b_str (&b, "update_sync_frequency", "weekly");
  b_int (&b, "update_sync_day", 0);
  b_bool (&b, "update_sync_enabled", 0);
  return b_end (&b);
}

static struct xva_value *
software_version (void)
{
  struct builder b = { xva_value_new_struct (), 0 };

  b_str (&b, "product_brand", "xva");
  b_str (&b, "product_version", XVA_VERSION_STRING);
  b_str (&b, "platform_name", "xva");
  b_str (&b, "platform_version", XVA_VERSION_STRING);
  b_str (&b, "xapi", "1.1");
  b_str (&b, "build_number", "");
  return b_end (&b);
}

static struct xva_value *
host_record (const char *uuid, const char *hostname, const char *sr_ref)
{
  static const char *const bootloaders[] = { "pygrub", "eliloader" };
  struct builder b = { xva_value_new_struct (), 0 };
  struct xva_value *hw;

  b_str (&b, "uuid", uuid);
  b_str (&b, "name_label", hostname);
  b_str (&b, "name_description", "");
  b_int (&b, "memory_overhead", 0);
  b_set_of (&b, "allowed_operations");
  b_map (&b, "current_operations");
  b_int (&b, "API_version_major", 2);
  b_int (&b, "API_version_minor", 21);
  b_str (&b, "API_version_vendor", "XenSource");
  b_map (&b, "API_version_vendor_implementation");
  b_bool (&b, "enabled", 1);
  b_set (&b, "software_version", software_version ());
  b_map (&b, "other_config");
  b_set_of (&b, "capabilities");
  b_map (&b, "cpu_configuration");
  b_str (&b, "sched_policy", "credit");
  b_strings (&b, "supported_bootloaders", bootloaders, 2);
  b_set_of (&b, "resident_VMs");
  b_map (&b, "logging");
  b_set_of (&b, "PIFs");
  b_str (&b, "suspend_image_sr", sr_ref);
  b_str (&b, "crash_dump_sr", sr_ref);
  b_set_of (&b, "crashdumps");
  b_set_of (&b, "patches");
  b_set_of (&b, "updates");
  b_set_of (&b, "PBDs");
  b_set_of (&b, "host_CPUs");
  b_map (&b, "cpu_info");
  b_str (&b, "hostname", hostname);
  b_str (&b, "address", "127.0.0.1");
  b_str (&b, "metrics", NULL_REF);
  b_map (&b, "license_params");
  b_set_of (&b, "ha_statefiles");
  b_set_of (&b, "ha_network_peers");
  b_map (&b, "blobs");
  b_set_of (&b, "tags");
  b_str (&b, "external_auth_type", "");
  b_str (&b, "external_auth_service_name", "");
  b_map (&b, "external_auth_configuration");
  b_str (&b, "edition", "xva");
  b_map (&b, "license_server");
  b_map (&b, "bios_strings");
  b_str (&b, "power_on_mode", "");
  b_map (&b, "power_on_config");
  b_str (&b, "local_cache_sr", NULL_REF);
  b_map (&b, "chipset_info");
  b_set_of (&b, "PCIs");
  b_set_of (&b, "PGPUs");
  b_set_of (&b, "PUSBs");
  b_bool (&b, "ssl_legacy", 0);
  b_map (&b, "guest_VCPUs_params");
  b_str (&b, "display", "enabled");
  hw = xva_value_new_array ();
  if (hw && xva_value_append (hw, xva_value_new_int (0)) < 0) {
    xva_value_free (hw);
    hw = NULL;
  }
  b_set (&b, "virtual_hardware_platform_versions", hw);
  b_str (&b, "control_domain", NULL_REF);
  b_set_of (&b, "updates_requiring_reboot");
  b_set_of (&b, "features");
  b_str (&b, "iscsi_iqn", "");
  b_bool (&b, "multipathing", 0);
  b_str (&b, "uefi_certificates", "");
  b_set_of (&b, "certificates");
  b_set_of (&b, "editions");
  b_set_of (&b, "pending_guidances");
  b_bool (&b, "tls_verification_enabled", 0);
  b_date (&b, "last_software_update", EPOCH);
  b_bool (&b, "https_only", 0);
  return b_end (&b);
}

/* ---- Initialisation ---------------------------------------------------- */

/* The host name, or "localhost". */
static void
host_name (char *buf, size_t len)
{
  if (gethostname (buf, len) == -1 || buf[0] == '\0')
    snprintf (buf, len, "localhost");
  buf[len - 1] = '\0';
}

int
Xva_store_init (struct Xva_store *s, const char *root_password)
{
  static const char fn[] = "Xva_store_init";
  char pool_uuid[XVA_STORE_UUID_LEN + 1], host_uuid[XVA_STORE_UUID_LEN + 1];
  char sr_uuid[XVA_STORE_UUID_LEN + 1];
  char pool_ref[XVA_STORE_REF_MAX + 1], host_ref[XVA_STORE_REF_MAX + 1];
  char sr_ref[XVA_STORE_REF_MAX + 1];
  char hostname[256], srdir[PATH_MAX];
  struct xva_value *pool = NULL, *host = NULL, *sr = NULL;
  struct Xva_store_txn *t = NULL;
  int made_dir = 0, r;

  if (s == NULL)
    return Xva_store_error (XVA_EINVAL, "%s: no store", fn);
  if (root_password == NULL || root_password[0] == '\0')
    return Xva_store_error (XVA_EINVAL, "%s: no root password given", fn);
  r = Xva_store_initialised (s);
  if (r < 0)
    return r;
  if (r == 1)
    return Xva_store_error (XVA_EEXIST, "%s: %s is already initialised", fn,
                            s->dir);
  if ((r = Xva_store_new_uuid (pool_uuid)) < 0
      || (r = Xva_store_new_uuid (host_uuid)) < 0
      || (r = Xva_store_new_uuid (sr_uuid)) < 0
      || (r = Xva_store_new_ref (pool_ref)) < 0
      || (r = Xva_store_new_ref (host_ref)) < 0
      || (r = Xva_store_new_ref (sr_ref)) < 0)
    return r;
  r = Xva_store_sr_dir (s, sr_uuid, srdir, sizeof srdir);
  if (r < 0)
    return r;
  host_name (hostname, sizeof hostname);
  if (Xva_store_mkdir (srdir) == -1)
    return Xva_store_error (XVA_EIO, "%s: %s: %s", fn, srdir,
                            strerror (errno));
  made_dir = 1;
  pool = pool_record (pool_uuid, host_ref, sr_ref);
  host = host_record (host_uuid, hostname, sr_ref);
  sr = Xva_store_sr_record ("Local storage", sr_uuid, srdir);
  if (pool == NULL || host == NULL || sr == NULL) {
    r = Xva_store_error (XVA_ENOMEM, "%s: out of memory", fn);
    goto out;
  }
  r = Xva_store_begin (s, &t);
  if (r < 0)
    goto out;
  if ((r = Xva_store_put (s, t, pool_ref, "pool", pool)) < 0
      || (r = Xva_store_put (s, t, host_ref, "host", host)) < 0
      || (r = Xva_store_put (s, t, sr_ref, "SR", sr)) < 0
      || (r = Xva_store_password_put (s, t, "root", root_password)) < 0
      || (r = Xva_store_mark_initialised (s, t)) < 0)
    goto out;
  r = Xva_store_commit (t);
  t = NULL;
  if (r == XVA_OK)
    made_dir = 0;

out:
  Xva_store_rollback (t);
  if (made_dir)
    rmdir (srdir);
  xva_value_free (pool);
  xva_value_free (host);
  xva_value_free (sr);
  return r;
}

int
Xva_store_sr_create (struct Xva_store *s, const char *name, char *ref_out,
                     char *uuid_out)
{
  static const char fn[] = "Xva_store_sr_create";
  char uuid[XVA_STORE_UUID_LEN + 1], ref[XVA_STORE_REF_MAX + 1];
  char srdir[PATH_MAX];
  struct xva_value *sr = NULL;
  int r;

  if (ref_out)
    ref_out[0] = '\0';
  if (uuid_out)
    uuid_out[0] = '\0';
  if (s == NULL || name == NULL)
    return Xva_store_error (XVA_EINVAL, "%s: no store or name", fn);
  if (strlen (name) > XVA_STORE_NAME_MAX)
    return Xva_store_error (XVA_ELIMIT, "%s: name longer than %d bytes", fn,
                            XVA_STORE_NAME_MAX);
  if ((r = Xva_store_new_uuid (uuid)) < 0 || (r = Xva_store_new_ref (ref)) < 0)
    return r;
  r = Xva_store_sr_dir (s, uuid, srdir, sizeof srdir);
  if (r < 0)
    return r;
  /* The directory first: one without a record is swept at the next
   * open, a record without its directory would be a broken SR. */
  if (Xva_store_mkdir (srdir) == -1)
    return Xva_store_error (XVA_EIO, "%s: %s: %s", fn, srdir,
                            strerror (errno));
  sr = Xva_store_sr_record (name, uuid, srdir);
  if (sr == NULL) {
    r = Xva_store_error (XVA_ENOMEM, "%s: out of memory", fn);
    goto out;
  }
  r = Xva_store_put (s, NULL, ref, "SR", sr);
  if (r < 0)
    goto out;
  if (ref_out)
    snprintf (ref_out, XVA_STORE_REF_MAX + 1, "%s", ref);
  if (uuid_out)
    snprintf (uuid_out, XVA_STORE_UUID_LEN + 1, "%s", uuid);

out:
  if (r < 0)
    rmdir (srdir);
  xva_value_free (sr);
  return r;
}

int
Xva_store_default_sr (struct Xva_store *s, struct Xva_store_txn *t,
                      char *ref_out)
{
  static const char fn[] = "Xva_store_default_sr";
  struct Xva_store_list pools = { 0, NULL, NULL };
  char cls[XVA_STORE_CLASS_MAX + 1];
  const char *sr;
  int r;

  if (ref_out == NULL)
    return Xva_store_error (XVA_EINVAL, "%s: no result given", fn);
  ref_out[0] = '\0';
  r = Xva_store_list (s, t, "pool", 1, &pools);
  if (r < 0)
    return r;
  if (pools.n == 0) {
    r = Xva_store_error (XVA_ENOTFOUND, "%s: no pool", fn);
    goto out;
  }
  sr = xva_value_get_string (pools.recs[0], "default_SR");
  if (sr == NULL || sr[0] == '\0' || strcmp (sr, NULL_REF) == 0
      || strlen (sr) > XVA_STORE_REF_MAX) {
    r = Xva_store_error (XVA_ENOTFOUND, "%s: the pool has no default SR", fn);
    goto out;
  }
  r = Xva_store_get (s, t, sr, cls, NULL);
  if (r == XVA_OK && strcmp (cls, "SR") != 0)
    r = XVA_ENOTFOUND;
  if (r == XVA_ENOTFOUND) {
    r = Xva_store_error (XVA_ENOTFOUND, "%s: default SR %s does not exist", fn,
                         sr);
    goto out;
  }
  if (r < 0)
    goto out;
  snprintf (ref_out, XVA_STORE_REF_MAX + 1, "%s", sr);

out:
  Xva_store_list_free (&pools);
  return r;
}
