package org.perfusionjobs.contracts;

/**
 * One tenant, one namespace: every id a tenant chooses (job id, concept id, blob id) is stored and
 * looked up under {@code <tenant>/<id>}, so two tenants may use the same id without ever meeting,
 * and an id of another tenant looks exactly like an id that does not exist. Tenants and ids match
 * {@code [A-Za-z0-9._-]}, so the slash cannot be forged from inside either part.
 */
public final class TenantScope {
  private TenantScope() {}

  /** The scoped form {@code <tenant>/<id>} used for Redis keys, registry keys and gateway maps. */
  public static String of(String tenant, String id) {
    if (tenant == null || tenant.isEmpty() || tenant.indexOf('/') >= 0) {
      throw new IllegalArgumentException(
          "tenant '" + tenant + "' cannot scope an id (empty or with '/')");
    }
    return tenant + "/" + id;
  }
}
