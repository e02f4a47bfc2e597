/*
 * jobs.h - the registry's scheduled work, run by the service framework.
 */
#ifndef REGISTRY_JOBS_H
#define REGISTRY_JOBS_H

#include "service.h"

/* The registry's kinds of scheduled job, for service_def_t.jobs. */
extern const service_job_t registry_jobs[];

#endif
