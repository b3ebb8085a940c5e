package org.perfusionjobs.contracts;

import com.fasterxml.jackson.annotation.JsonInclude;

/** concept-registered v1: a registry entry (file is the concept safetensors, base64). */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ConceptRegistered(
    String conceptId,
    String tenant,
    String placeholder,
    String superclass,
    String baseModel,
    String cinvHash,
    Double defaultBeta,
    Double defaultTau,
    String createdAt,
    String file) {}
