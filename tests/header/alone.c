/* The public header compiles on its own as C11 -pedantic. */
#include <xva/xva.h>

int xva_header_alone_c (void);
int
xva_header_alone_c (void)
{
  struct xva_in in = { 0, 0, 0 };
  return (int) in.pos + XVA_OK;
}
