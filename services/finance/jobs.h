/*
 * jobs.h - finance's scheduled work, run by the service framework
 * (service_job_t): the end of applications' public notices, and guarantee
 * loans' instalments unpaid after their day.
 */
#ifndef FINANCE_JOBS_H
#define FINANCE_JOBS_H

#include "service.h"

/* finance's kinds of scheduled job, for service_def_t.jobs. */
extern const service_job_t finance_jobs[];

#endif
