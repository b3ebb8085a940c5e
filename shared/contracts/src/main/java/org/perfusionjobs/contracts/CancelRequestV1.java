package org.perfusionjobs.contracts;

import com.fasterxml.jackson.annotation.JsonInclude;

/** cancel-request v1. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record CancelRequestV1(String jobId, String tenant, String reason) {}
