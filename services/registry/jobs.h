/*
 * jobs.h - the registry's scheduled work, run by the service framework's tick.
 */
#ifndef REGISTRY_JOBS_H
#define REGISTRY_JOBS_H

#include "service.h"

/* Restores missing jobs from the database now and then, and runs the jobs
 * that are due. */
service_tick_fn registry_tick;

#endif
