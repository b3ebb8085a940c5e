package org.perfusionjobs.infra;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/**
 * `scripts/service stack config/local.env` listens on the ports that file names (config/local.env).
 */
class LocalStackPortsTest {
  @Test
  void theStackTakesItsPortsFromTheServicesSettings() {
    assertEquals(9092, LocalStack.portOf("127.0.0.1:9092"));
    assertEquals(6379, LocalStack.portOf("redis://127.0.0.1:6379"));
    assertEquals(6380, LocalStack.portOf("rediss://user:secret@127.0.0.1:6380/0"));
    assertEquals(0, LocalStack.portOf(null));
    assertEquals(0, LocalStack.portOf(" "));
    assertThrows(IllegalArgumentException.class, () -> LocalStack.portOf("a:9092,b:9092"));
  }
}
