# Schema-less protobuf field walk used to produce *.rawdecoded.jsonl from *.hex (one frame per line).
# Usage: python3 rawdecode.py spot_ws_*.hex   (heuristic: length-delimited fields that are printable ASCII are shown as strings, else parsed as nested messages)
import sys, json
def varint(b,i):
    r=0;s=0
    while True:
        x=b[i];i+=1;r|=(x&0x7f)<<s;s+=7
        if x<0x80: return r,i
def walk(b, depth=0):
    i=0;out=[]
    while i<len(b):
        k,i=varint(b,i);f=k>>3;t=k&7
        if t==0: v,i=varint(b,i); out.append([f,"varint",v])
        elif t==2:
            n,i=varint(b,i); v=b[i:i+n]; i+=n
            # try nested message first when it parses cleanly and is not printable text
            txt=None
            try:
                s=v.decode('utf-8')
                if all(32<=ord(c)<127 for c in s): txt=s
            except: pass
            if txt is not None: out.append([f,"string",txt])
            else:
                try: out.append([f,"message",walk(v,depth+1)])
                except Exception: out.append([f,"bytes",v.hex()])
        elif t==1: out.append([f,"fixed64",b[i:i+8].hex()]); i+=8
        elif t==5: out.append([f,"fixed32",b[i:i+4].hex()]); i+=4
        else: raise ValueError("wiretype %d"%t)
    return out
for fn in sys.argv[1:]:
    outfn=fn[:-4]+'.rawdecoded.jsonl'
    with open(outfn,'w') as o:
        for line in open(fn):
            line=line.strip()
            if not line: continue
            o.write(json.dumps(walk(bytes.fromhex(line)),separators=(',',':'))+'\n')
    print(outfn)
