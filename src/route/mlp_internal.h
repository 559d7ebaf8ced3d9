/* mlp_internal.h - training-time pieces of the router MLP (forward with a
 * cache of activations, backward). Used by train.c and the tests; serving
 * uses hflow_mlp_forward only. */
#ifndef HFLOW_ROUTE_MLP_INTERNAL_H
#define HFLOW_ROUTE_MLP_INTERNAL_H

#include "hybridflow/router.h"

#define HFLOW_MLP_MAX_WIDTH 1024

/* Activations of one sample: z (pre) and a (post) of every hidden layer,
 * each layer at offset sum(size[1..l-1]). */
typedef struct hflow_mlp_cache {
    float *z, *a;
    size_t n; /* floats in each */
} hflow_mlp_cache;

int hflow_mlp_cache_init(hflow_mlp_cache *c, const hflow_mlp *m);
void hflow_mlp_cache_free(hflow_mlp_cache *c);
float hflow_mlp_forward_cached(const hflow_mlp *m, const hflow_router_fvec *x, hflow_mlp_cache *c);
/* All n_out outputs into out. */
void hflow_mlp_forward_cached_all(const hflow_mlp *m, const hflow_router_fvec *x, hflow_mlp_cache *c, float *out);
/* Adds d(out)/d(params) * g to grads (same shape as m), for the input and
 * cache of one forward pass. `tmp` holds 2 * HFLOW_MLP_MAX_WIDTH floats. */
void hflow_mlp_backward(const hflow_mlp *m, const hflow_router_fvec *x, const hflow_mlp_cache *c, float g,
                        hflow_mlp *grads, float *tmp);
/* The same with one gradient per output (g: n_out floats). */
void hflow_mlp_backward_all(const hflow_mlp *m, const hflow_router_fvec *x, const hflow_mlp_cache *c, const float *g,
                            hflow_mlp *grads, float *tmp);
/* An MLP of the same shape with zero weights (for gradients / Adam moments). */
int hflow_mlp_zeros_like(hflow_mlp *dst, const hflow_mlp *src, hflow_error *err);
void hflow_mlp_zero(hflow_mlp *m);
/* One network equal to the output average of k members of the same shape
 * with at most one hidden layer (their hidden units side by side, output
 * weights / k; linear members: the mean weights). out is allocated. */
int hflow_mlp_ensemble(const hflow_mlp *mem, uint32_t k, hflow_mlp *out, hflow_error *err);
/* Count of weights in layer l and the copy of all parameters. */
size_t hflow_mlp_layer_w(const hflow_mlp *m, uint32_t l);
int hflow_mlp_copy(hflow_mlp *dst, const hflow_mlp *src);

#endif
