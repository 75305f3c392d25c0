package reminder

import (
	"fmt"
	"strings"
	"time"
)

// Languages with templates; anything else falls back to English.
const (
	LangEN = "en"
	LangZH = "zh-CN"
)

// Language picks the template language for a patient's preferred language
// (a BCP 47 tag): any Chinese tag is zh-CN, everything else en.
func Language(preferred string) string {
	if strings.HasPrefix(strings.ToLower(preferred), "zh") {
		return LangZH
	}
	return LangEN
}

type template struct{ subject, body string }

// templates per language and reminder kind; %s is the visit's local time.
// A kind without a template of its own uses "" (the generic visit text).
var templates = map[string]map[string]template{
	LangEN: {
		"":                 {"Your clinic visit", "Reminder: you have a visit at the clinic on %s."},
		"infusion_2h":      {"Your infusion today", "Reminder: your infusion starts at %s. Please arrive 15 minutes early."},
		"draw_preparation": {"Preparing for your blood draw", "Your blood draw is on %s. Drink plenty of water and eat a light meal beforehand."},
		KindNextCycleDraw:  {"Your next cycle begins", "Your next treatment cycle begins with a blood draw on %s."},
	},
	LangZH: {
		"":                 {"就诊提醒", "提醒：您在 %s 有一次门诊就诊。"},
		"infusion_2h":      {"今日输注提醒", "提醒：您的输注将于 %s 开始，请提前15分钟到达。"},
		"draw_preparation": {"采血准备", "您的采血时间为 %s。请多喝水，采血前请清淡饮食。"},
		KindNextCycleDraw:  {"下一疗程即将开始", "您的下一疗程将于 %s 以采血开始。"},
	},
}

var timeLayouts = map[string]string{LangEN: "Mon 2 Jan 2006 15:04 MST", LangZH: "2006年1月2日 15:04 MST"}

// Render renders a reminder of kind for a visit starting at start, in the
// clinic's zone, in the language chosen for preferred. It returns the
// subject, the body and the language used.
func Render(kind, preferred string, start time.Time, clinic *time.Location) (subject, body, lang string) {
	lang = Language(preferred)
	t, ok := templates[lang][kind]
	if !ok {
		t = templates[lang][""]
	}
	return t.subject, fmt.Sprintf(t.body, start.In(clinic).Format(timeLayouts[lang])), lang
}

// RenderStandalone renders a reminder of no visit in the language chosen
// for preferred: a payment names the invoice's number and the amount due, a
// long-term follow-up its months, a check-in its day and link; nothing else
// about the patient. It
// returns the subject, the body and the language used.
func RenderStandalone(kind, preferred string, d Details) (subject, body, lang string) {
	lang = Language(preferred)
	switch {
	case kind == KindPayment && lang == LangZH:
		return "账单逾期提醒", fmt.Sprintf("您的账单 %s 已逾期，应付金额 %s。请尽快付款，如有疑问请联系诊所。",
			d.InvoiceNumber, d.AmountDue.Format(lang)), lang
	case kind == KindPayment:
		return "Your invoice is overdue", fmt.Sprintf("Invoice %s is overdue: %s is due. Please pay at your earliest convenience or contact the clinic.",
			d.InvoiceNumber, d.AmountDue.Format(lang)), lang
	case kind == KindCheckIn:
		return renderCheckIn(lang, d)
	case lang == LangZH:
		return "疗程后随访", fmt.Sprintf("您的疗程结束已 %d 个月，请联系诊所预约随访。", d.Months), lang
	}
	return "Your follow-up visit", fmt.Sprintf("It is %d months since your course ended. Please contact the clinic to book your follow-up visit.", d.Months), lang
}

func renderCheckIn(lang string, d Details) (subject, body, language string) {
	if lang == LangZH {
		ask := "护士会与您联系，您也可以致电诊所。"
		if d.Link != "" {
			ask = "请在此回答：" + d.Link
		}
		return "输注后随访问卷", fmt.Sprintf("输注后第 %d 天：请告诉我们您的体温以及是否有发冷、发热、乏力、头痛、皮疹、呼吸急促或注射部位发红。%s如有呼吸困难，请立即致电诊所。",
			d.Day, ask), lang
	}
	ask := "A nurse will call you, or you can call the clinic."
	if d.Link != "" {
		ask = "Answer here: " + d.Link
	}
	return "Your check-in after the infusion", fmt.Sprintf("Day %d after your infusion: please tell us your temperature and whether you have chills, fever, fatigue, headache, a rash, shortness of breath or redness where the infusion went in. %s If you are short of breath, call the clinic now.",
		d.Day, ask), lang
}
