#include "core/cli/ringtrain_main.h"

int main(int argc, char** argv) { return rt::ringtrain_main(argc, argv); }
