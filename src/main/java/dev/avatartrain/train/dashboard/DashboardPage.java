package dev.avatartrain.train.dashboard;

/** The dashboard's page: plain HTML, inline CSS and JS that polls {@code data.json} and draws SVG line charts. */
final class DashboardPage {
    private DashboardPage() {}

    static String html(String title) {
        String t = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
        return """
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>%s · Avatar-Train</title>
<style>
 body{font-family:sans-serif;margin:16px;background:#fafafa;color:#222}
 h1{font-size:20px;margin:0 0 8px} #status{font-size:15px;margin-bottom:12px}
 .grid{display:flex;flex-wrap:wrap;gap:12px} .card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px}
 .card h2{font-size:14px;margin:0 0 4px} svg text{font-size:10px;fill:#555} img{max-width:600px;image-rendering:pixelated}
</style></head><body>
<h1>Avatar-Train · %s</h1>
<div id="status">waiting for the first metrics row…</div>
<div class="grid">
 <div class="card"><h2>loss (log scale): training <span style="color:#1f77b4">■</span> validation <span style="color:#d62728">■</span></h2><svg id="loss" width="460" height="240"></svg></div>
 <div class="card"><h2>learning rate</h2><svg id="lr" width="460" height="240"></svg></div>
 <div class="card"><h2>throughput (samples/s)</h2><svg id="tp" width="460" height="240"></svg></div>
 <div class="card"><h2>latest validation grid</h2><img id="grid" alt="no validation grid yet"></div>
</div>
<script>
function fmt(s){if(s==null)return '–';s=Math.round(s);return Math.floor(s/3600)+':'+String(Math.floor(s/60)%%60).padStart(2,'0')+':'+String(s%%60).padStart(2,'0');}
function chart(id,series,log){
 const svg=document.getElementById(id),W=460,H=240,L=50,B=20,T=8,R=8;
 const all=[].concat(...series.map(s=>s.pts)).filter(p=>isFinite(p[1])&&(!log||p[1]>0));
 if(!all.length){svg.innerHTML='<text x="10" y="20">no data yet</text>';return;}
 const f=v=>log?Math.log10(v):v;
 let x0=Math.min(...all.map(p=>p[0])),x1=Math.max(...all.map(p=>p[0])),y0=Math.min(...all.map(p=>f(p[1]))),y1=Math.max(...all.map(p=>f(p[1])));
 if(x1==x0)x1=x0+1; if(y1==y0){y1+=0.5;y0-=0.5;}
 const sx=x=>L+(x-x0)/(x1-x0)*(W-L-R), sy=y=>T+(1-(f(y)-y0)/(y1-y0))*(H-T-B);
 let g='<line x1="'+L+'" y1="'+(H-B)+'" x2="'+(W-R)+'" y2="'+(H-B)+'" stroke="#999"/><line x1="'+L+'" y1="'+T+'" x2="'+L+'" y2="'+(H-B)+'" stroke="#999"/>';
 const lab=v=>log?Number(Math.pow(10,v).toPrecision(3)):Number(v.toPrecision(3));
 g+='<text x="2" y="'+(T+8)+'">'+lab(y1)+'</text><text x="2" y="'+(H-B)+'">'+lab(y0)+'</text>';
 g+='<text x="'+L+'" y="'+(H-4)+'">step '+x0+'</text><text x="'+(W-R-60)+'" y="'+(H-4)+'">step '+x1+'</text>';
 for(const s of series){const p=s.pts.filter(q=>isFinite(q[1])&&(!log||q[1]>0));if(!p.length)continue;
  g+='<polyline fill="none" stroke="'+s.color+'" stroke-width="2" points="'+p.map(q=>sx(q[0]).toFixed(1)+','+sy(q[1]).toFixed(1)).join(' ')+'"/>';
  if(p.length<30)for(const q of p)g+='<circle r="2.5" fill="'+s.color+'" cx="'+sx(q[0]).toFixed(1)+'" cy="'+sy(q[1]).toFixed(1)+'"/>';}
 svg.innerHTML=g;}
function pts(rows,k){return rows.filter(r=>r[k]!=null).map(r=>[r.step,r[k]]);}
let gridRows=-1;const TOKEN=new URLSearchParams(location.search).get('token'),TQ=TOKEN?'token='+encodeURIComponent(TOKEN):'';
async function refresh(){
 try{const d=await (await fetch('data.json'+(TQ?'?'+TQ:''),{cache:'no-store'})).json(),rows=d.rows;
  const last=rows.filter(r=>r.train_loss!=null).slice(-1)[0], lastVal=rows.filter(r=>r.val_loss!=null).slice(-1)[0];
  let s='step '+d.step+' / '+d.max_steps+' · ETA '+fmt(d.eta_s)+' · elapsed '+fmt(d.elapsed_s);
  if(last)s+=' · loss '+last.train_loss.toPrecision(4)+' · lr '+last.lr.toPrecision(3)+' · '+last.samples_per_s.toFixed(1)+' samples/s';
  if(lastVal)s+=' · val loss '+lastVal.val_loss.toPrecision(4)+' (step '+lastVal.step+')';
  document.getElementById('status').textContent=s;
  chart('loss',[{pts:pts(rows,'train_loss'),color:'#1f77b4'},{pts:pts(rows,'val_loss'),color:'#d62728'}],true);
  chart('lr',[{pts:pts(rows,'lr'),color:'#2ca02c'}],false);
  chart('tp',[{pts:pts(rows,'samples_per_s'),color:'#9467bd'}],false);
  const nv=rows.filter(r=>r.val_loss!=null).length;
  if(nv!=gridRows){gridRows=nv;document.getElementById('grid').src='grid.png?v='+nv+(TQ?'&'+TQ:'');}
 }catch(e){document.getElementById('status').textContent='dashboard not reachable: '+e;}
}
refresh(); setInterval(refresh,2000);
</script></body></html>
""".formatted(t, t);
    }
}
