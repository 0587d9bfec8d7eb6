/* The liaison tool's cli_main.c without its main (renamed), so that a unit test links the
 * tool's modules with the helpers cli_main.c defines (cli_error, cli_read_file, ...). */
#define main liaison_tool_main
int main(int argc, char **argv);
#include "cli_main.c"
