/* SPDX-License-Identifier: MIT */
#include <liburing.h>

#include "st_loop.h"

int st_loop_probe(void)
{
	struct io_uring ring;
	int rc = io_uring_queue_init(4, &ring, 0);

	if (rc < 0)
		return rc;
	io_uring_queue_exit(&ring);
	return 0;
}
