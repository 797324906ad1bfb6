/* SPDX-License-Identifier: MIT */
/* A statically linked program that waits for a signal: a child no
 * preload can see, for the tests of the launcher's tree kill. */
#include <unistd.h>

int main(void)
{
	for(;;)
		pause();
}
