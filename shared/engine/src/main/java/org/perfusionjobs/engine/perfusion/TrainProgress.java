package org.perfusionjobs.engine.perfusion;

import java.time.Duration;

/** Reported after every optimiser step: the step's mean loss, elapsed time and time left. */
public record TrainProgress(int step, int total, double loss, Duration elapsed, Duration eta) {}
