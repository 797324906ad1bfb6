/* SPDX-License-Identifier: MIT */
/* A statically linked program, for the tests that check the launcher
 * refuses what a preload cannot follow. */
int main(void)
{
	return 0;
}
