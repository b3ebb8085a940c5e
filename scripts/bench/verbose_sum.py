#!/usr/bin/env python3
"""Sums the per-call times of a log written with ONEDNN_VERBOSE=1 MKL_VERBOSE=1 (docs/benchmarks.md,
"GEMM rate against the machine"): convolutions with their FLOPs, oneDNN reorders, MKL SGEMM with its
FLOPs, MKL SGEMM_BATCH. Usage: verbose_sum.py LOG"""
import re,sys
conv_t=0;conv_f=0;reo_t=0;gemm_t=0;gemm_f=0;bgemm_t=0;bgemm_f=0;n=0
for l in open(sys.argv[1],errors='replace'):
    if l.startswith('onednn_verbose') and ',exec,' in l:
        f=l.rstrip().split(',')
        t=float(f[-1])
        if ',convolution,' in l:
            conv_t+=t
            m=re.search(r'mb(\d+)_ic(\d+)oc(\d+)_ih(\d+)oh(\d+)kh(\d+)sh\d+dh\d+ph\d+_iw(\d+)ow(\d+)kw(\d+)',l)
            mb,ic,oc,ih,oh,kh,iw,ow,kw=map(int,m.groups())
            conv_f+=2*mb*oc*oh*ow*ic*kh*kw
        elif ',reorder,' in l: reo_t+=t
    elif l.startswith('MKL_VERBOSE SGEMM('):
        m=re.match(r'MKL_VERBOSE SGEMM\((\w),(\w),(\d+),(\d+),(\d+),.*\) ([\d.]+)(ms|us|s)',l)
        if m:
            mm,nn,kk=int(m.group(3)),int(m.group(4)),int(m.group(5)); t=float(m.group(6))*{'ms':1,'us':1e-3,'s':1e3}[m.group(7)]
            gemm_t+=t; gemm_f+=2*mm*nn*kk
    elif l.startswith('MKL_VERBOSE SGEMM_BATCH'):
        m=re.search(r'\) ([\d.]+)(ms|us|s) ',l)
        if m: bgemm_t+=float(m.group(1))*{'ms':1,'us':1e-3,'s':1e3}[m.group(2)]
print("conv (oneDNN): %.1f s, %.0f GFLOP, %.1f GFLOP/s" % (conv_t/1e3, conv_f/1e9, conv_f/conv_t/1e6 if conv_t else 0))
print("oneDNN reorders: %.1f s" % (reo_t/1e3))
print("SGEMM (MKL, linear layers): %.1f s, %.0f GFLOP, %.1f GFLOP/s" % (gemm_t/1e3, gemm_f/1e9, gemm_f/gemm_t/1e6 if gemm_t else 0))
print("SGEMM_BATCH (MKL, attention): %.1f s" % (bgemm_t/1e3))
