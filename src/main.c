#include <stdio.h>
int main(void) { puts("posthorn"); return 0; }
