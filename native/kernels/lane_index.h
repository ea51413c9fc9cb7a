// Internal: index lists for __builtin_shufflevector that split two vectors of L floats into their even
// and odd lanes (MYELIN_EVEN_<L>, MYELIN_ODD_<L>), for the deinterleaving loads of pool_max.inc and
// conv_winograd.inc; MYELIN_EVEN_VL / MYELIN_ODD_VL for the unit's MYELIN_CONV_VL lanes.
#pragma once

#define MYELIN_EVEN_16 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30
#define MYELIN_ODD_16 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31
#define MYELIN_EVEN_8 0, 2, 4, 6, 8, 10, 12, 14
#define MYELIN_ODD_8 1, 3, 5, 7, 9, 11, 13, 15
#define MYELIN_EVEN_4 0, 2, 4, 6
#define MYELIN_ODD_4 1, 3, 5, 7
#define MYELIN_LANES_CAT(a, b) a##b
#define MYELIN_LANES_EXPAND(a, b) MYELIN_LANES_CAT(a, b)
#define MYELIN_EVEN_VL MYELIN_LANES_EXPAND(MYELIN_EVEN_, MYELIN_CONV_VL)
#define MYELIN_ODD_VL MYELIN_LANES_EXPAND(MYELIN_ODD_, MYELIN_CONV_VL)
