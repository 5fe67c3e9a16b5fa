// The public header compiles on its own as C++.
#include <xva/xva.h>

int xva_header_alone_cxx ();
int
xva_header_alone_cxx ()
{
  xva_out out = { nullptr, 0, 0 };
  return static_cast<int> (out.pos) + XVA_OK;
}
