// Convolution + activation + max pooling in one kernel (see conv_fused.h), images split across threads.
#include "conv_fused.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "codes.gen.h"
#include "conv.h"
#include "conv_winograd.h"
#include "parallel_split.h"
#include "../runtime/threadpool.h"

namespace myelin {
namespace {

constexpr const char* kKernel = "conv2dMaxPoolForward";

// The generic path's chunk of images: their convolution output (OC x OH x OW each) in at most this many
// floats, so it is pooled from the L2 cache (1 MiB per core on EPYC Zen 4) rather than from memory.
constexpr long kChunkFloats = 1L << 16;

thread_local std::vector<float> t_planes;

// Runs body(first, last) over the images: one contiguous range per thread when there are two images
// or more and the convolution is large enough to repay the fork (conv.cc's for_image_chunks threshold).
template <class Body>
void over_images(int N, long work, const Body& body) {
  const int tasks = std::min(N, num_threads());
  if (tasks <= 1 || work < 32768) {
    body(0, N);
    return;
  }
  parallel_for(tasks, [&](int t) {
    body(static_cast<int>(static_cast<long>(N) * t / tasks), static_cast<int>(static_cast<long>(N) * (t + 1) / tasks));
  });
}

// Tasks to split one image's convolution across by channels: the threads when the batch has fewer images than
// threads and the convolution is large enough (work: multiply-adds of the direct convolution) to repay the
// fork/join, else 1 (the images are split, or it runs on the calling thread).
int channel_tasks(int N, long work) {
  const int threads = num_threads();
  return N < threads && work >= kSplitMultiplyAdds ? threads : 1;
}

}  // namespace

void conv2d_max_pool_forward(int N, int C, int OC, long inPlane, long outPlane, long kArea, long poolPlane, int G,
                             const int32_t* geom, const int32_t* pgeom, const float* X, const float* W,
                             const float* bias, int act, float alpha, float* out) {
  const float* U = conv2d_forward_prepare(kKernel, N, C, OC, inPlane, outPlane, kArea, G, geom, W);
  const int OH = geom[kGeomOH], OW = geom[kGeomOW];
  if (pgeom[kGeomH] != OH || pgeom[kGeomW] != OW) {
    throw std::invalid_argument(std::string(kKernel) + ": the pooling's input " + std::to_string(pgeom[kGeomH]) + "x" +
                                std::to_string(pgeom[kGeomW]) + " differs from the convolution's output " +
                                std::to_string(OH) + "x" + std::to_string(OW));
  }
  max_pool2d_check(kKernel, outPlane, poolPlane, G, pgeom);
  const long work = static_cast<long>(N) * OC * outPlane * kArea;
  const bool pool2 = pgeom[kGeomKH] == 2 && pgeom[kGeomKW] == 2 && pgeom[kGeomSH] == 2 && pgeom[kGeomSW] == 2 &&
                     pgeom[kGeomPH] == 0 && pgeom[kGeomPW] == 0 && pgeom[kGeomDH] == 1 && pgeom[kGeomDW] == 1 &&
                     pgeom[kGeomOH] == OH / 2 && pgeom[kGeomOW] == OW / 2;
  if (U != nullptr && pool2 && (act == kActNone || act == kActRelu)) {
    const int groups = geom[kGeomGroups];
    const WinoShape s{C / groups, OC / groups, geom[kGeomH], geom[kGeomW], OH, OW, geom[kGeomPH], geom[kGeomPW]};
    const int tasks = channel_tasks(N, work);
    if (tasks > 1) {
      winograd_conv_pool(s, groups, 0, N, X, static_cast<long>(C) * inPlane, U, bias, act == kActRelu, out,
                         static_cast<long>(OC) * poolPlane, tasks);
      return;
    }
    over_images(N, work, [&](int first, int last) {
      winograd_conv_pool(s, groups, first, last, X, static_cast<long>(C) * inPlane, U, bias, act == kActRelu, out,
                         static_cast<long>(OC) * poolPlane);
    });
    return;
  }
  if (pool2 && (act == kActNone || act == kActRelu) &&
      conv2d_blocked_pool_forward(geom, 0, 0, X, W, bias, act == kActRelu, out)) {  // the path exists: run it
    const int tasks = channel_tasks(N, work);
    if (tasks > 1) {
      conv2d_blocked_pool_forward(geom, 0, N, X, W, bias, act == kActRelu, out, tasks);
      return;
    }
    over_images(N, work, [&](int first, int last) {
      conv2d_blocked_pool_forward(geom, first, last, X, W, bias, act == kActRelu, out);
    });
    return;
  }
  const long image = static_cast<long>(OC) * outPlane;
  const int nb = static_cast<int>(std::max(1L, kChunkFloats / image));
  over_images(N, work, [&](int first, int last) {
    for (int n0 = first; n0 < last; n0 += nb) {
      const int nc = std::min(nb, last - n0);
      if (t_planes.size() < static_cast<size_t>(nc * image)) t_planes.resize(static_cast<size_t>(nc * image));
      float* planes = t_planes.data();
      // Inside a task conv2d_forward runs on this thread (the pool runs nested calls serially).
      conv2d_forward(nc, C, OC, inPlane, outPlane, kArea, G, geom, X + static_cast<long>(n0) * C * inPlane, W, bias, act,
                     alpha, planes);
      max_pool2d_planes(nc * OC, outPlane, poolPlane, pgeom, planes, out + static_cast<long>(n0) * OC * poolPlane);
    }
  });
}

}  // namespace myelin
