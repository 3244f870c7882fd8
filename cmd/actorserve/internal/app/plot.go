package app

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/actorserve/actorserve/learning/eval"
)

// plotCurves writes learning curves as a self-contained SVG: windowed
// accuracy (or MAE) against events seen, one line per learner, with
// dashed vertical marks (for example where concept drifts happen).
func plotCurves(w io.Writer, title, yLabel string, results []eval.Result, marks []int) error {
	const W, H = 960, 480
	const left, right, top, bottom = 70, 190, 50, 60
	pw, ph := float64(W-left-right), float64(H-top-bottom)
	maxX := 1.0
	minY, maxY := math.Inf(1), math.Inf(-1)
	for _, r := range results {
		for _, run := range r.Runs {
			for _, p := range run.Curve {
				maxX = math.Max(maxX, float64(p.Event))
				minY, maxY = math.Min(minY, p.Recent), math.Max(maxY, p.Recent)
			}
		}
	}
	if math.IsInf(minY, 0) {
		return fmt.Errorf("plot: no curve points (use --curve N)")
	}
	minY = math.Floor(minY*20) / 20
	maxY = math.Min(1, math.Ceil(maxY*20)/20)
	if maxY-minY < 0.1 {
		minY = maxY - 0.1
	}
	x := func(v float64) float64 { return left + v/maxX*pw }
	y := func(v float64) float64 { return top + (maxY-v)/(maxY-minY)*ph }
	colors := []string{"#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563"}

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica, Arial, sans-serif" font-size="13">`+"\n", W, H, W, H)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", W, H)
	fmt.Fprintf(&b, `<text x="%d" y="28" font-size="16" font-weight="bold">%s</text>`+"\n", left, escape(title))
	// grid and y ticks
	for i := 0; i <= 5; i++ {
		v := minY + (maxY-minY)*float64(i)/5
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e5e7eb"/>`+"\n", left, y(v), left+pw, y(v))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" fill="#374151">%.2f</text>`+"\n", left-8, y(v)+4, v)
	}
	// x ticks
	for i := 0; i <= 5; i++ {
		v := maxX * float64(i) / 5
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#374151">%s</text>`+"\n", x(v), top+ph+20, humanCount(v))
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#111827">events</text>`+"\n", left+pw/2, H-15)
	fmt.Fprintf(&b, `<text x="18" y="%.1f" text-anchor="middle" fill="#111827" transform="rotate(-90 18 %.1f)">%s</text>`+"\n", top+ph/2, top+ph/2, escape(yLabel))
	for _, m := range marks {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.1f" stroke="#6b7280" stroke-dasharray="5,4"/>`+"\n", x(float64(m)), top, x(float64(m)), top+ph)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#6b7280" font-size="11">drift</text>`+"\n", x(float64(m)), top-6)
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%.1f" fill="none" stroke="#9ca3af"/>`+"\n", left, top, pw, ph)
	for i, r := range results {
		if len(r.Runs) == 0 || len(r.Runs[0].Curve) == 0 {
			continue
		}
		c := colors[i%len(colors)]
		var pts []string
		for _, p := range r.Runs[0].Curve {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(float64(p.Event)), y(p.Recent)))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", c, strings.Join(pts, " "))
		ly := top + 10 + i*22
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>`+"\n", W-right+15, ly, W-right+40, ly, c)
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#111827">%s</text>`+"\n", W-right+46, ly+4, escape(r.Name))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func humanCount(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.1fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.0fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
